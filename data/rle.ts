/**
 * COCO run-length mask encodings, the same as pycocotools' `mask` module (maskApi.c): encode, decode,
 * area, bounding box and merge.
 *
 * Conventions (pycocotools'):
 * - An RLE is `{ size: [height, width], counts }`. Its runs walk the mask column by column (Fortran order),
 *   alternating 0-runs and 1-runs and starting with a (possibly empty) 0-run.
 * - `counts` is either COCO JSON's compressed string (see `rle_string.ts`) or the uncompressed number list;
 *   every function here accepts both, and functions returning an RLE return the compressed string form.
 * - Masks passed in and returned are row-major `height×width` `Uint8Array`s of 0/1 (any non-zero byte
 *   counts as 1 on input), i.e. the layout of an image, not of the runs.
 *
 * Decision: the computational cores (`RleRuns` in, typed arrays out) are exported for the evaluator, which
 * decodes each annotation once; their arithmetic follows maskApi's `uint` wrap-around so odd inputs (zero
 * runs, counts that do not sum to height×width) give pycocotools' answers rather than "fixed" ones.
 * @module
 */
import { rleCountsFromString, rleCountsToString } from "./rle_string.ts";
import { DataError } from "./errors.ts";

/** A COCO RLE: `size` is `[height, width]`; `counts` is the compressed string or the uncompressed list. */
export interface Rle {
  size: [number, number];
  counts: string | number[];
}

/** A COCO RLE in the compressed string form, as written in COCO JSON results. */
export interface CompressedRle {
  size: [number, number];
  counts: string;
}

/** An RLE decoded to its run lengths: the internal form every RLE operation works on. */
export interface RleRuns {
  height: number;
  width: number;
  counts: Uint32Array;
}

/**
 * Checks and decodes any RLE form to run lengths. `what` names the argument in error messages.
 *
 * @example
 * ```ts
 * import { rleToRuns } from "./rle.ts";
 * console.log(rleToRuns({ size: [2, 2], counts: [1, 2, 1] }).counts); // Uint32Array [1, 2, 1]
 * ```
 */
export function rleToRuns(rle: Rle, what = "rle"): RleRuns {
  if (rle === null || typeof rle !== "object") {
    throw new DataError("bad-rle", `${what} is not an RLE object`, { file: "" });
  }
  const size = rle.size;
  if (
    !Array.isArray(size) || size.length !== 2 || !Number.isInteger(size[0]) || !Number.isInteger(size[1]) ||
    size[0] < 0 || size[1] < 0
  ) {
    throw new DataError(
      "bad-rle",
      `${what}.size must be [height, width] with non-negative integers, got ${JSON.stringify(size)}`,
      { file: "" },
    );
  }
  const counts = rle.counts;
  if (typeof counts === "string") {
    return { height: size[0], width: size[1], counts: rleCountsFromString(counts, `${what}.counts`) };
  }
  if (!Array.isArray(counts)) {
    throw new DataError("bad-rle", `${what}.counts must be a string or an array of numbers`, { file: "" });
  }
  const out = new Uint32Array(counts.length);
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i];
    if (!Number.isInteger(c) || c < 0 || c > 0xffffffff) {
      throw new DataError("bad-rle", `${what}.counts[${i}] must be an integer in [0, 2^32), got ${c}`, {
        file: "",
      });
    }
    out[i] = c;
  }
  return { height: size[0], width: size[1], counts: out };
}

/**
 * Writes run lengths as a compressed-string RLE.
 *
 * @example
 * ```ts
 * import { runsToRle } from "./rle.ts";
 * console.log(runsToRle({ height: 2, width: 2, counts: new Uint32Array([1, 2, 1]) })); // { size: [2, 2], counts: "121" }
 * ```
 */
export function runsToRle(runs: RleRuns): CompressedRle {
  return { size: [runs.height, runs.width], counts: rleCountsToString(runs.counts) };
}

function checkMask(fn: string, mask: Uint8Array, height: number, width: number): void {
  if (!Number.isInteger(height) || height < 0 || !Number.isInteger(width) || width < 0) {
    throw new DataError(
      "bad-rle",
      `${fn}: height and width must be non-negative integers, got ${height}×${width}`,
      { file: "" },
    );
  }
  if (!(mask instanceof Uint8Array)) {
    throw new DataError("bad-rle", `${fn}: mask must be a Uint8Array`, { file: "" });
  }
  if (mask.length !== height * width) {
    throw new DataError(
      "bad-rle",
      `${fn}: mask has ${mask.length} elements, expected height×width = ${height * width}`,
      { file: "" },
    );
  }
}

/**
 * Run-length encodes a row-major `height×width` 0/1 mask (maskApi `rleEncode`) to run lengths.
 *
 * @example
 * ```ts
 * import { maskToRuns } from "./rle.ts";
 * console.log(maskToRuns(new Uint8Array([0, 1, 0, 1]), 2, 2).counts); // Uint32Array [2, 2]
 * ```
 */
export function maskToRuns(mask: Uint8Array, height: number, width: number): RleRuns {
  checkMask("maskToRuns", mask, height, width);
  const runs = new Uint32Array(height * width + 1);
  let k = 0;
  let prev = 0;
  let c = 0;
  for (let x = 0; x < width; x++) {
    for (let i = x, y = 0; y < height; y++, i += width) {
      const v = mask[i] === 0 ? 0 : 1;
      if (v !== prev) {
        runs[k++] = c;
        c = 0;
        prev = v;
      }
      c++;
    }
  }
  runs[k++] = c;
  return { height, width, counts: runs.slice(0, k) };
}

/**
 * Encodes a row-major `height×width` 0/1 mask as a compressed COCO RLE, like pycocotools `mask.encode`.
 *
 * @example
 * ```ts
 * import { rleEncode } from "./rle.ts";
 * const mask = new Uint8Array([0, 1, 1, 1]); // 2×2, row-major
 * console.log(rleEncode(mask, 2, 2)); // { size: [2, 2], counts: "13" }
 * ```
 */
export function rleEncode(mask: Uint8Array, height: number, width: number): CompressedRle {
  checkMask("rleEncode", mask, height, width);
  return runsToRle(maskToRuns(mask, height, width));
}

/**
 * Decodes an RLE (either form) to a row-major `height×width` 0/1 mask, like pycocotools `mask.decode`.
 * Throws if the runs add up to more than height×width pixels; pixels past a short run list stay 0.
 *
 * @example
 * ```ts
 * import { rleDecode } from "./rle.ts";
 * console.log(rleDecode({ size: [2, 2], counts: [1, 3] })); // Uint8Array [0, 1, 1, 1]
 * ```
 */
export function rleDecode(rle: Rle): Uint8Array {
  const { height, width, counts } = rleToRuns(rle, "rleDecode: rle");
  const mask = new Uint8Array(height * width);
  let pos = 0;
  let v = 0;
  for (let j = 0; j < counts.length; j++) {
    const end = pos + counts[j];
    if (end > height * width) {
      throw new DataError(
        "bad-rle",
        `rleDecode: rle.counts add up to more than height×width = ${height * width} pixels`,
        { file: "" },
      );
    }
    if (v === 1) {
      for (; pos < end; pos++) {
        const x = Math.floor(pos / height);
        mask[(pos - x * height) * width + x] = 1;
      }
    }
    pos = end;
    v ^= 1;
  }
  return mask;
}

/**
 * Foreground pixel count of run lengths (maskApi `rleArea`, modulo 2^32 like its `uint`).
 *
 * @example
 * ```ts
 * import { runsArea } from "./rle.ts";
 * console.log(runsArea(new Uint32Array([1, 3, 2, 4]))); // 7
 * ```
 */
export function runsArea(counts: Uint32Array): number {
  let a = 0;
  for (let j = 1; j < counts.length; j += 2) a = (a + counts[j]) >>> 0;
  return a;
}

/**
 * Foreground pixel count of an RLE (either form), like pycocotools `mask.area`.
 *
 * @example
 * ```ts
 * import { rleArea } from "./rle.ts";
 * console.log(rleArea({ size: [2, 2], counts: "13" })); // 3
 * ```
 */
export function rleArea(rle: Rle): number {
  return runsArea(rleToRuns(rle, "rleArea: rle").counts);
}

/**
 * Bounding box `[x, y, w, h]` of run lengths (maskApi `rleToBbox`), written to `out[offset..offset+4]`.
 * An empty run list gives zeros. A mask whose foreground wraps from one column into the next gets the full
 * image height, exactly as maskApi does.
 *
 * @example
 * ```ts
 * import { runsToBbox } from "./rle.ts";
 * const out = new Float64Array(4);
 * runsToBbox({ height: 2, width: 2, counts: new Uint32Array([1, 3]) }, out, 0);
 * console.log(out); // Float64Array [0, 0, 2, 2]
 * ```
 */
export function runsToBbox(runs: RleRuns, out: Float64Array, offset: number): void {
  const h = runs.height >>> 0;
  const w = runs.width >>> 0;
  const cnts = runs.counts;
  const m = cnts.length - (cnts.length % 2);
  if (m === 0 || h === 0) {
    out[offset] =
      out[offset + 1] =
      out[offset + 2] =
      out[offset + 3] =
        0;
    return;
  }
  let xs = w, ys = h, xe = 0, ye = 0, cc = 0, xp = 0;
  for (let j = 0; j < m; j++) {
    cc = (cc + cnts[j]) >>> 0;
    const t = (cc - (j % 2)) >>> 0;
    const y = t % h;
    const x = (t - y) / h;
    if (j % 2 === 0) xp = x;
    else if (xp < x) {
      ys = 0;
      ye = h - 1;
    }
    if (x < xs) xs = x;
    if (x > xe) xe = x;
    if (y < ys) ys = y;
    if (y > ye) ye = y;
  }
  out[offset] = xs;
  out[offset + 2] = ((xe - xs) >>> 0) + 1;
  out[offset + 1] = ys;
  out[offset + 3] = ((ye - ys) >>> 0) + 1;
}

/**
 * Bounding box `[x, y, w, h]` of an RLE (either form), like pycocotools `mask.toBbox`.
 *
 * @example
 * ```ts
 * import { rleToBbox } from "./rle.ts";
 * console.log(rleToBbox({ size: [4, 4], counts: [5, 2, 9] })); // [1, 1, 1, 2]
 * ```
 */
export function rleToBbox(rle: Rle): [number, number, number, number] {
  const out = new Float64Array(4);
  runsToBbox(rleToRuns(rle, "rleToBbox: rle"), out, 0);
  return [out[0], out[1], out[2], out[3]];
}

/**
 * Union (or intersection) of run lengths of equal size (maskApi `rleMerge`). Throws if sizes differ.
 *
 * @example
 * ```ts
 * import { runsMerge } from "./rle.ts";
 * const a = { height: 2, width: 2, counts: new Uint32Array([0, 2, 2]) };
 * const b = { height: 2, width: 2, counts: new Uint32Array([1, 2, 1]) };
 * console.log(runsMerge([a, b], false).counts); // Uint32Array [0, 3, 1]
 * ```
 */
export function runsMerge(list: readonly RleRuns[], intersect: boolean): RleRuns {
  const n = list.length;
  if (n === 0) return { height: 0, width: 0, counts: new Uint32Array(0) };
  const h = list[0].height, w = list[0].width;
  if (n === 1) return { height: h, width: w, counts: list[0].counts.slice() };
  let cnts = new Uint32Array(h * w + 1);
  let m = list[0].counts.length;
  // h*w+1 bounds a canonical result; odd inputs (zero runs) may need up to both lists' lengths.
  const ensure = (need: number) => {
    if (need > cnts.length) {
      const bigger = new Uint32Array(Math.max(need, cnts.length * 2));
      bigger.set(cnts);
      cnts = bigger;
    }
  };
  ensure(m);
  cnts.set(list[0].counts);
  for (let i = 1; i < n; i++) {
    const B = list[i];
    if (B.height !== h || B.width !== w) {
      throw new DataError(
        "bad-rle",
        `rleMerge: rles[${i}] is ${B.height}×${B.width} but rles[0] is ${h}×${w}`,
        { file: "" },
      );
    }
    const A = cnts.slice(0, m);
    const Am = m, Bm = B.counts.length, Bc = B.counts;
    ensure(Am + Bm + 1);
    let ca = Am > 0 ? A[0] : 0, cb = Bm > 0 ? Bc[0] : 0;
    let v = 0, va = 0, vb = 0, a = 1, b = 1, cc = 0, ct = 1;
    m = 0;
    while (ct > 0) {
      const c = ca < cb ? ca : cb;
      cc += c;
      ct = 0;
      ca -= c;
      if (ca === 0 && a < Am) {
        ca = A[a++];
        va ^= 1;
      }
      ct += ca;
      cb -= c;
      if (cb === 0 && b < Bm) {
        cb = Bc[b++];
        vb ^= 1;
      }
      ct += cb;
      if (ct > 0 && ((ca === 0 && a >= Am) || (cb === 0 && b >= Bm))) {
        // maskApi loops forever here: one mask's runs end before the other's.
        throw new DataError(
          "bad-rle",
          `rleMerge: rles[${i}] runs cover a different pixel count than the merge of rles[0..${i - 1}]`,
          { file: "" },
        );
      }
      const vp = v;
      v = intersect ? va & vb : va | vb;
      if (v !== vp || ct === 0) {
        cnts[m++] = cc;
        cc = 0;
      }
    }
  }
  return { height: h, width: w, counts: cnts.slice(0, m) };
}

/**
 * Union (default) or intersection of RLEs of equal size, like pycocotools `mask.merge(rles, intersect)`.
 * Returns the compressed form. An empty list gives a 0×0 RLE, as pycocotools; unequal sizes throw
 * (pycocotools silently returns an empty RLE there).
 *
 * @example
 * ```ts
 * import { rleArea, rleMerge } from "./rle.ts";
 * const a = { size: [2, 2] as [number, number], counts: [0, 2, 2] };
 * const b = { size: [2, 2] as [number, number], counts: [1, 2, 1] };
 * console.log(rleArea(rleMerge([a, b])), rleArea(rleMerge([a, b], true))); // 3 1
 * ```
 */
export function rleMerge(rles: readonly Rle[], intersect = false): CompressedRle {
  if (!Array.isArray(rles)) {
    throw new DataError("bad-rle", "rleMerge: rles must be an array of RLEs", { file: "" });
  }
  const runs = rles.map((r, i) => rleToRuns(r, `rleMerge: rles[${i}]`));
  return runsToRle(runsMerge(runs, intersect));
}
