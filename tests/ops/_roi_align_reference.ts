/**
 * A plain float64 RoIAlign backward on NHWC maps, written from torchvision 0.14's CPU kernel
 * (`roi_align_backward_kernel_impl`: `bilinear_interpolate_gradient` and its boundary rules), as the
 * independent reference of the GPU backward paths. One RoI at a time, one sample at a time, scattering into
 * a Float64Array — the textbook loop, none of the GPU's tiling or bin weighting.
 * @module
 */

/** The geometry of one level's pooling. */
export interface ReferenceGeometry {
  /** Output bins [outH, outW]. */
  outputSize: readonly [number, number];
  /** Feature pixels per input pixel. */
  scale: number;
  /** Samples per bin side; <= 0 for adaptive. */
  samplingRatio: number;
  /** torchvision `aligned`. */
  aligned: boolean;
}

/**
 * Adds the gradient of RoIs `rows` (all when omitted) into `grad` [N, H, W, C] (float64).
 * gradOut: [R, outH, outW, C], rois: [R, 5] (batchIndex, x1, y1, x2, y2).
 */
export function roiAlignBackwardReference(
  gradOut: ArrayLike<number>,
  rois: ArrayLike<number>,
  shape: readonly [number, number, number, number],
  geometry: ReferenceGeometry,
  rows?: readonly number[],
  grad = new Float64Array(shape[0] * shape[1] * shape[2] * shape[3]),
): Float64Array {
  const [n, h, w, c] = shape;
  const [outH, outW] = geometry.outputSize;
  const offset = geometry.aligned ? 0.5 : 0;
  const all = Array.from({ length: rois.length / 5 }, (_, r) => r);
  for (const r of rows ?? all) {
    const b = Math.trunc(rois[r * 5]);
    if (b < 0 || b >= n) continue;
    const startW = rois[r * 5 + 1] * geometry.scale - offset;
    const startH = rois[r * 5 + 2] * geometry.scale - offset;
    let roiW = rois[r * 5 + 3] * geometry.scale - offset - startW;
    let roiH = rois[r * 5 + 4] * geometry.scale - offset - startH;
    if (!geometry.aligned) [roiW, roiH] = [Math.max(roiW, 1), Math.max(roiH, 1)];
    const binH = roiH / outH;
    const binW = roiW / outW;
    const s = geometry.samplingRatio;
    const gridH = s > 0 ? s : Math.ceil(roiH / outH);
    const gridW = s > 0 ? s : Math.ceil(roiW / outW);
    const count = Math.max(gridH * gridW, 1);
    for (let ph = 0; ph < outH; ph++) {
      for (let pw = 0; pw < outW; pw++) {
        const g = (r * outH + ph) * outW + pw;
        for (let iy = 0; iy < gridH; iy++) {
          const y = startH + ph * binH + (iy + 0.5) * binH / gridH;
          for (let ix = 0; ix < gridW; ix++) {
            const x = startW + pw * binW + (ix + 0.5) * binW / gridW;
            for (const [pixel, weight] of bilinearGradient(y, x, h, w)) {
              const base = (b * h * w + pixel) * c;
              for (let k = 0; k < c; k++) grad[base + k] += gradOut[g * c + k] * weight / count;
            }
          }
        }
      }
    }
  }
  return grad;
}

/** torchvision's `bilinear_interpolate_gradient`: the four (pixel, weight) taps of a sample, or none. */
function bilinearGradient(yIn: number, xIn: number, h: number, w: number): [number, number][] {
  if (yIn < -1 || yIn > h || xIn < -1 || xIn > w) return [];
  let y = Math.max(yIn, 0);
  let x = Math.max(xIn, 0);
  let yl = Math.trunc(y);
  let xl = Math.trunc(x);
  let yh = yl + 1;
  let xh = xl + 1;
  if (yl >= h - 1) [yl, yh, y] = [h - 1, h - 1, h - 1];
  if (xl >= w - 1) [xl, xh, x] = [w - 1, w - 1, w - 1];
  const [ly, lx] = [y - yl, x - xl];
  const [hy, hx] = [1 - ly, 1 - lx];
  return [[yl * w + xl, hy * hx], [yl * w + xh, hy * lx], [yh * w + xl, ly * hx], [yh * w + xh, ly * lx]];
}
