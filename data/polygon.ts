/**
 * Polygon and box rasterisation to COCO RLEs, pixel-for-pixel as pycocotools' `frPyObjects` (maskApi
 * `rleFrPoly` / `rleFrBbox`), and conversion of any COCO `segmentation` to one RLE (pycocotools' `annToRLE`).
 *
 * maskApi upsamples the polygon by 5, walks every edge with integer steps, keeps the points where the
 * upsampled x crosses a pixel centre column, and turns those column boundaries into runs. The port keeps
 * its C semantics exactly: `(int)` casts truncate toward zero (points left of or above the image), and
 * a cast of NaN (an edge whose two ends round to the same upsampled point, e.g. a closed polygon whose last
 * vertex repeats the first) gives INT_MIN as on x86-64; such a point never starts a column boundary, so
 * the value cannot change the mask, but the port keeps it rather than reason about every case.
 * @module
 */
import { type CompressedRle, type Rle, type RleRuns, rleToRuns, runsMerge, runsToRle } from "./rle.ts";
import { rleCountsToString } from "./rle_string.ts";
import { DataError } from "./errors.ts";

/** A COCO `segmentation`: polygons (flat `[x0, y0, x1, y1, …]` lists) or an RLE in either form. */
export type CocoSegmentation = number[][] | Rle;

const INT_MIN = -2147483648;

/** C's `(int)` cast of a double on x86-64: truncation; NaN and out-of-range values give INT_MIN. */
function cInt(v: number): number {
  return v > -2147483649 && v < 2147483648 ? Math.trunc(v) : INT_MIN;
}

/**
 * Rasterises one polygon (`xy` = x0, y0, x1, y1, …, in pixel coordinates) to run lengths (maskApi
 * `rleFrPoly`).
 *
 * @example
 * ```ts
 * import { polygonToRuns } from "./polygon.ts";
 * console.log(polygonToRuns([1, 1, 3, 1, 3, 3, 1, 3], 4, 4).counts); // Uint32Array [5, 2, 2, 2, 5]
 * ```
 */
export function polygonToRuns(xy: ArrayLike<number>, height: number, width: number): RleRuns {
  const scale = 5;
  const limit = polygonCoordinateLimit(height, width);
  for (let j = 0; j < xy.length; j++) {
    if (!(Math.abs(xy[j]) <= limit)) {
      throw new RangeError(`polygonToRuns: coordinate ${j} = ${xy[j]} is not a number within ±${limit}`);
    }
  }
  const k = xy.length >> 1;
  const x = new Int32Array(k + 1), y = new Int32Array(k + 1);
  for (let j = 0; j < k; j++) x[j] = cInt(scale * xy[2 * j] + 0.5);
  x[k] = x[0];
  for (let j = 0; j < k; j++) y[j] = cInt(scale * xy[2 * j + 1] + 0.5);
  y[k] = y[0];
  let m = 0;
  for (let j = 0; j < k; j++) m += Math.max(Math.abs(x[j] - x[j + 1]), Math.abs(y[j] - y[j + 1])) + 1;
  const u = new Int32Array(m), v = new Int32Array(m);
  m = 0;
  for (let j = 0; j < k; j++) {
    let xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1];
    const dx = Math.abs(xe - xs), dy = Math.abs(ys - ye);
    const flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) {
      let t = xs;
      xs = xe;
      xe = t;
      t = ys;
      ys = ye;
      ye = t;
    }
    const s = dx >= dy ? (ye - ys) / dx : (xe - xs) / dy;
    if (dx >= dy) {
      for (let d = 0; d <= dx; d++) {
        const t = flip ? dx - d : d;
        u[m] = t + xs;
        v[m] = cInt(ys + s * t + 0.5);
        m++;
      }
    } else {
      for (let d = 0; d <= dy; d++) {
        const t = flip ? dy - d : d;
        v[m] = t + ys;
        u[m] = cInt(xs + s * t + 0.5);
        m++;
      }
    }
  }
  // Points where x crosses a pixel-centre column become the column's first foreground row.
  const n = m;
  const wMax = width === 0 ? Infinity : width - 1; // maskApi compares against the unsigned w-1
  const bx = new Int32Array(n), by = new Int32Array(n);
  m = 0;
  for (let j = 1; j < n; j++) {
    if (u[j] === u[j - 1]) continue;
    let xd = u[j] < u[j - 1] ? u[j] : u[j] - 1;
    xd = (xd + 0.5) / scale - 0.5;
    if (Math.floor(xd) !== xd || xd < 0 || xd > wMax) continue;
    let yd = v[j] < v[j - 1] ? v[j] : v[j - 1];
    yd = (yd + 0.5) / scale - 0.5;
    if (yd < 0) yd = 0;
    else if (yd > height) yd = height;
    yd = Math.ceil(yd);
    bx[m] = xd;
    by[m] = yd;
    m++;
  }
  // Sorted column-major boundary positions → differences → run lengths, folding away empty runs.
  const a = new Uint32Array(m + 1);
  for (let j = 0; j < m; j++) a[j] = Math.imul(bx[j], height) + by[j];
  a[m] = height * width;
  a.sort();
  let p = 0;
  for (let j = 0; j <= m; j++) {
    const t = a[j];
    a[j] -= p;
    p = t;
  }
  const kk = m + 1;
  const b = new Uint32Array(kk);
  let j = 0;
  m = 0;
  b[m++] = a[j++];
  while (j < kk) {
    if (a[j] > 0) b[m++] = a[j++];
    else {
      j++;
      if (j < kk) b[m - 1] += a[j++];
    }
  }
  return { height, width, counts: b.slice(0, m) };
}

/**
 * Rasterises an xywh box like pycocotools' `frBbox` (as the 4-corner polygon) to run lengths.
 *
 * @example
 * ```ts
 * import { boxToRuns } from "./polygon.ts";
 * console.log(boxToRuns([1, 1, 2, 2], 4, 4).counts); // Uint32Array [5, 2, 2, 2, 5]
 * ```
 */
export function boxToRuns(box: ArrayLike<number>, height: number, width: number): RleRuns {
  const xs = box[0], xe = xs + box[2], ys = box[1], ye = ys + box[3];
  return polygonToRuns([xs, ys, xs, ye, xe, ye, xe, ys], height, width);
}

function checkSize(fn: string, height: number, width: number): void {
  if (!Number.isInteger(height) || height < 0 || !Number.isInteger(width) || width < 0) {
    throw new DataError(
      "bad-polygon",
      `${fn}: height and width must be non-negative integers, got ${height}×${width}`,
      { file: "" },
    );
  }
}

/**
 * The largest |coordinate| a polygon of a `height×width` image may have: 4× the longer side, at least 1024.
 * Rasterising walks every edge in steps of 1/5 pixel (maskApi), so memory grows with the coordinates; a
 * polygon beyond this bound (a corrupt annotation, e.g. 1e9) is refused before anything is allocated.
 *
 * @example
 * ```ts
 * import { polygonCoordinateLimit } from "./polygon.ts";
 * console.log(polygonCoordinateLimit(480, 640)); // 2560
 * ```
 */
export function polygonCoordinateLimit(height: number, width: number): number {
  return 4 * Math.max(height, width, 256);
}

function checkPolygon(
  fn: string,
  what: string,
  poly: unknown,
  height: number,
  width: number,
): asserts poly is number[] {
  if (!Array.isArray(poly)) {
    throw new DataError("bad-polygon", `${fn}: ${what} must be an array of numbers [x0, y0, x1, y1, …]`, {
      file: "",
    });
  }
  if (poly.length < 2 || poly.length % 2 !== 0) {
    throw new DataError(
      "bad-polygon",
      `${fn}: ${what} must have an even number (≥ 2) of coordinates, got ${poly.length}`,
      { file: "" },
    );
  }
  const limit = polygonCoordinateLimit(height, width);
  for (let i = 0; i < poly.length; i++) {
    if (typeof poly[i] !== "number" || !Number.isFinite(poly[i])) {
      throw new DataError("bad-polygon", `${fn}: ${what}[${i}] must be a finite number, got ${poly[i]}`, {
        file: "",
      });
    }
    if (Math.abs(poly[i]) > limit) {
      throw new DataError(
        "bad-polygon",
        `${fn}: ${what}[${i}] = ${poly[i]} lies beyond ±${limit} (4× the ${height}×${width} image's longer ` +
          `side, at least 1024); refused before rasterising`,
        { file: "" },
      );
    }
  }
}

/**
 * Rasterises polygons to one compressed RLE each, like pycocotools `frPyObjects(polygons, height, width)`.
 * Each polygon is a flat list `[x0, y0, x1, y1, …]` of pixel coordinates (floats; points may lie outside
 * the image). Use `rleMerge` to combine the parts of one object.
 *
 * @example
 * ```ts
 * import { polygonsToRle } from "./polygon.ts";
 * import { rleArea } from "./rle.ts";
 * const [rle] = polygonsToRle([[1, 1, 3, 1, 3, 3, 1, 3]], 4, 4);
 * console.log(rle.size, rleArea(rle)); // [4, 4] 4
 * ```
 */
export function polygonsToRle(polygons: readonly number[][], height: number, width: number): CompressedRle[] {
  checkSize("polygonsToRle", height, width);
  if (!Array.isArray(polygons)) {
    throw new DataError("bad-polygon", "polygonsToRle: polygons must be an array of polygons", { file: "" });
  }
  return polygons.map((poly, i) => {
    checkPolygon("polygonsToRle", `polygons[${i}]`, poly, height, width);
    return runsToRle(polygonToRuns(poly, height, width));
  });
}

/**
 * Converts any COCO `segmentation` of an object in a `height×width` image to its run lengths, like
 * pycocotools `COCO.annToRLE`: polygon parts are rasterised and merged; an uncompressed RLE is taken as is
 * (its own size wins); a compressed one is decoded. As in pycocotools, a polygon list whose first entry has
 * exactly 4 numbers is read as a list of xywh boxes. `what` names the segmentation in errors.
 *
 * @example
 * ```ts
 * import { segmentationToRuns } from "./polygon.ts";
 * console.log(segmentationToRuns([[1, 1, 3, 1, 3, 3, 1, 3]], 4, 4).counts); // Uint32Array [5, 2, 2, 2, 5]
 * ```
 */
export function segmentationToRuns(
  segmentation: CocoSegmentation,
  height: number,
  width: number,
  what = "segmentation",
): RleRuns {
  if (Array.isArray(segmentation)) {
    checkSize(what, height, width);
    if (segmentation.length === 0) {
      throw new DataError("bad-polygon", `${what}: polygon list is empty`, { file: "" });
    }
    const asBoxes = Array.isArray(segmentation[0]) && segmentation[0].length === 4;
    const parts = segmentation.map((poly, i) => {
      checkPolygon(what, `${what}[${i}]`, poly, height, width);
      if (asBoxes) {
        if (poly.length !== 4) {
          throw new DataError(
            "bad-polygon",
            `${what}[${i}]: has ${poly.length} numbers but ${what}[0] is a 4-number box`,
            { file: "" },
          );
        }
        return boxToRuns(poly, height, width);
      }
      return polygonToRuns(poly, height, width);
    });
    return runsMerge(parts, false);
  }
  return rleToRuns(segmentation, what);
}

/**
 * Converts any COCO `segmentation` (polygon list, uncompressed or compressed RLE) of an object in a
 * `height×width` image to one compressed RLE, like pycocotools `COCO.annToRLE`.
 *
 * @example
 * ```ts
 * import { segmentationToRle } from "./polygon.ts";
 * console.log(segmentationToRle({ size: [2, 2], counts: [1, 3] }, 2, 2)); // { size: [2, 2], counts: "13" }
 * ```
 */
export function segmentationToRle(
  segmentation: CocoSegmentation,
  height: number,
  width: number,
): CompressedRle {
  if (!Array.isArray(segmentation) && typeof segmentation?.counts === "string") {
    rleToRuns(segmentation, "segmentationToRle: segmentation"); // validate, then hand back as is
    return { size: [segmentation.size[0], segmentation.size[1]], counts: segmentation.counts };
  }
  const runs = segmentationToRuns(segmentation, height, width, "segmentationToRle: segmentation");
  return { size: [runs.height, runs.width], counts: rleCountsToString(runs.counts) };
}
