/**
 * Intersection over union between detections and ground truths, for RLE masks and for xywh boxes, the
 * same as pycocotools' `mask.iou` (maskApi `rleIou` / `bbIou`), crowd handling included.
 *
 * For a crowd ground truth (iscrowd = 1) the "union" is the detection's own area, so the value is the
 * fraction of the detection lying inside the crowd region. RLE IoU first runs the box IoU of the masks'
 * bounding boxes and only walks the runs where that is positive, as maskApi does; RLEs of a different size
 * than their ground truth get -1 (maskApi's value, which the COCO evaluator treats as "no match").
 *
 * Decision: the cores write into a flat `Float64Array` laid out `[detection * gts + gt]` so the evaluator
 * can reuse one buffer; the public functions return an array of rows (dets × gts).
 * @module
 */
import { type Rle, type RleRuns, rleToRuns, runsArea, runsToBbox } from "./rle.ts";
import { DataError } from "./errors.ts";

/** The iscrowd flags accepted by the IoU functions: one per ground truth (non-zero/true = crowd). */
export type CrowdFlags = ArrayLike<number | boolean>;

/**
 * Box IoU core (maskApi `bbIou`): `dt` and `gt` hold xywh boxes, 4 numbers each; writes
 * `out[d * nGt + g]`.
 *
 * @example
 * ```ts
 * import { boxIouInto } from "./rle_iou.ts";
 * const out = new Float64Array(1);
 * boxIouInto(new Float64Array([0, 0, 2, 2]), new Float64Array([1, 0, 2, 2]), new Uint8Array(1), out);
 * console.log(out[0]); // 0.3333333333333333
 * ```
 */
export function boxIouInto(
  dt: ArrayLike<number>,
  gt: ArrayLike<number>,
  iscrowd: ArrayLike<number>,
  out: Float64Array,
): void {
  const m = dt.length >> 2, n = gt.length >> 2;
  for (let g = 0; g < n; g++) {
    const gx = gt[4 * g], gy = gt[4 * g + 1], gw = gt[4 * g + 2], gh = gt[4 * g + 3];
    const ga = gw * gh;
    const crowd = iscrowd[g] !== 0;
    for (let d = 0; d < m; d++) {
      const dx = dt[4 * d], dy = dt[4 * d + 1], dw = dt[4 * d + 2], dh = dt[4 * d + 3];
      const da = dw * dh;
      const o = d * n + g;
      out[o] = 0;
      const w = Math.min(dw + dx, gw + gx) - Math.max(dx, gx);
      if (w <= 0) continue;
      const h = Math.min(dh + dy, gh + gy) - Math.max(dy, gy);
      if (h <= 0) continue;
      const i = w * h;
      out[o] = i / (crowd ? da : da + ga - i);
    }
  }
}

/**
 * Mask IoU core (maskApi `rleIou`): `dtBoxes`/`gtBoxes` are the masks' `runsToBbox` boxes (4 per mask);
 * writes `out[d * gt.length + g]`.
 *
 * @example
 * ```ts
 * import { maskToRuns, runsToBbox } from "./rle.ts";
 * import { runsIouInto } from "./rle_iou.ts";
 * const a = maskToRuns(new Uint8Array([1, 1, 0, 0]), 2, 2), b = maskToRuns(new Uint8Array([1, 0, 1, 0]), 2, 2);
 * const boxes = new Float64Array(8);
 * runsToBbox(a, boxes, 0);
 * runsToBbox(b, boxes, 4);
 * const out = new Float64Array(1);
 * runsIouInto([a], boxes.subarray(0, 4), [b], boxes.subarray(4), new Uint8Array(1), out);
 * console.log(out[0]); // 0.3333333333333333
 * ```
 */
export function runsIouInto(
  dt: readonly RleRuns[],
  dtBoxes: ArrayLike<number>,
  gt: readonly RleRuns[],
  gtBoxes: ArrayLike<number>,
  iscrowd: ArrayLike<number>,
  out: Float64Array,
): void {
  boxIouInto(dtBoxes, gtBoxes, iscrowd, out);
  const m = dt.length, n = gt.length;
  for (let g = 0; g < n; g++) {
    const G = gt[g];
    const crowd = iscrowd[g] !== 0;
    const gc = G.counts, kb = gc.length;
    for (let d = 0; d < m; d++) {
      const o = d * n + g;
      if (!(out[o] > 0)) continue;
      const D = dt[d];
      if (D.height !== G.height || D.width !== G.width) {
        out[o] = -1;
        continue;
      }
      const dc = D.counts, ka = dc.length;
      let ca = ka > 0 ? dc[0] : 0, cb = kb > 0 ? gc[0] : 0;
      let va = 0, vb = 0, a = 1, b = 1, inter = 0, union = 0, ct = 1;
      while (ct > 0) {
        const c = ca < cb ? ca : cb;
        if (va | vb) {
          union += c;
          if (va & vb) inter += c;
        }
        ct = 0;
        ca -= c;
        if (ca === 0 && a < ka) {
          ca = dc[a++];
          va ^= 1;
        }
        ct += ca;
        cb -= c;
        if (cb === 0 && b < kb) {
          cb = gc[b++];
          vb ^= 1;
        }
        ct += cb;
        if (ct > 0 && ((ca === 0 && a >= ka) || (cb === 0 && b >= kb))) {
          // maskApi loops forever here: one mask's runs end before the other's.
          throw new DataError(
            "bad-eval-input",
            `rleIou: detection ${d} and ground truth ${g} have runs covering different pixel counts`,
            { file: "" },
          );
        }
      }
      if (inter === 0) union = 1;
      else if (crowd) union = runsArea(dc);
      out[o] = inter / union;
    }
  }
}

function crowdBytes(fn: string, iscrowd: CrowdFlags | undefined, n: number): Uint8Array {
  const flags = new Uint8Array(n);
  if (iscrowd === undefined) return flags;
  if (iscrowd.length !== n) {
    throw new DataError(
      "bad-eval-input",
      `${fn}: iscrowd has ${iscrowd.length} flags but there are ${n} gts`,
      { file: "" },
    );
  }
  for (let g = 0; g < n; g++) flags[g] = iscrowd[g] ? 1 : 0;
  return flags;
}

function toRows(flat: Float64Array, m: number, n: number): number[][] {
  const rows: number[][] = [];
  for (let d = 0; d < m; d++) rows.push(Array.from(flat.subarray(d * n, d * n + n)));
  return rows;
}

/**
 * IoU matrix between detection and ground-truth RLEs (either form), like pycocotools
 * `mask.iou(dets, gts, iscrowd)`: `result[d][g]`; `iscrowd` has one flag per gt (default: none crowd).
 * Pairs of different sizes give -1.
 *
 * @example
 * ```ts
 * import { rleEncode } from "./rle.ts";
 * import { rleIou } from "./rle_iou.ts";
 * const a = rleEncode(new Uint8Array([1, 1, 0, 0]), 2, 2), b = rleEncode(new Uint8Array([1, 0, 1, 0]), 2, 2);
 * console.log(rleIou([a], [b], [0])); // [[0.3333333333333333]]
 * console.log(rleIou([a], [b], [1])); // [[0.5]]
 * ```
 */
export function rleIou(dets: readonly Rle[], gts: readonly Rle[], iscrowd?: CrowdFlags): number[][] {
  const dt = dets.map((r, i) => rleToRuns(r, `rleIou: dets[${i}]`));
  const gt = gts.map((r, i) => rleToRuns(r, `rleIou: gts[${i}]`));
  const flags = crowdBytes("rleIou", iscrowd, gt.length);
  const dtBoxes = new Float64Array(4 * dt.length), gtBoxes = new Float64Array(4 * gt.length);
  dt.forEach((r, i) => runsToBbox(r, dtBoxes, 4 * i));
  gt.forEach((r, i) => runsToBbox(r, gtBoxes, 4 * i));
  const out = new Float64Array(dt.length * gt.length);
  runsIouInto(dt, dtBoxes, gt, gtBoxes, flags, out);
  return toRows(out, dt.length, gt.length);
}

function flatBoxes(fn: string, name: string, boxes: readonly ArrayLike<number>[]): Float64Array {
  const flat = new Float64Array(4 * boxes.length);
  boxes.forEach((b, i) => {
    if (b === null || b === undefined || b.length !== 4) {
      throw new DataError("bad-eval-input", `${fn}: ${name}[${i}] must be an [x, y, w, h] box of 4 numbers`, {
        file: "",
      });
    }
    for (let j = 0; j < 4; j++) flat[4 * i + j] = b[j];
  });
  return flat;
}

/**
 * IoU matrix between xywh boxes, like pycocotools `mask.iou` on boxes (maskApi `bbIou`): `result[d][g]`;
 * for a crowd gt the union is the detection's area.
 *
 * @example
 * ```ts
 * import { bboxIou } from "./rle_iou.ts";
 * console.log(bboxIou([[0, 0, 2, 2]], [[1, 0, 2, 2], [0, 0, 4, 4]], [0, 1])); // [[0.3333333333333333, 1]]
 * ```
 */
export function bboxIou(
  dets: readonly ArrayLike<number>[],
  gts: readonly ArrayLike<number>[],
  iscrowd?: CrowdFlags,
): number[][] {
  const dt = flatBoxes("bboxIou", "dets", dets), gt = flatBoxes("bboxIou", "gts", gts);
  const flags = crowdBytes("bboxIou", iscrowd, gts.length);
  const out = new Float64Array(dets.length * gts.length);
  boxIouInto(dt, gt, flags, out);
  return toRows(out, dets.length, gts.length);
}
