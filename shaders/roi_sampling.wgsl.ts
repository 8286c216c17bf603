/**
 * WGSL shared by every kernel that samples a map over a RoI the way torchvision's `roi_align` does: the RoI's
 * sampling grid (start, bin sizes, samples per bin, the count that averages them) and the four bilinear taps
 * of one sample point with their weights (`bilinear_interpolate` / `bilinear_interpolate_gradient`: nothing
 * outside [-1, H] × [-1, W], clamped into the map). Used by RoIAlign forward and backward and by the mask
 * targets, so the three read exactly the same taps with exactly the same arithmetic.
 * @module
 */

/**
 * Declares `struct RoiGrid` and `fn roiGrid(x1, y1, x2, y2, scale, aligned, outH, outW, sampling)`; the
 * sample (iy, ix) of bin (ph, pw) is at `y = startH + ph·binH + (iy + 0.5)·binH / gridH` (likewise x).
 *
 * @example
 * ```ts
 * import { ROI_GRID_WGSL } from "./roi_sampling.wgsl.ts";
 * console.log(ROI_GRID_WGSL.includes("fn roiGrid"));
 * ```
 */
export const ROI_GRID_WGSL = /* wgsl */ `
struct RoiGrid { startH: f32, startW: f32, binH: f32, binW: f32, gridH: i32, gridW: i32, count: f32 }

fn roiGrid(x1: f32, y1: f32, x2: f32, y2: f32, scale: f32, aligned: bool, outH: u32, outW: u32,
           sampling: i32) -> RoiGrid {
  var g: RoiGrid;
  let offset = select(0.0, 0.5, aligned);
  g.startW = x1 * scale - offset;
  g.startH = y1 * scale - offset;
  var roiW = (x2 * scale - offset) - g.startW;
  var roiH = (y2 * scale - offset) - g.startH;
  if (!aligned) { roiW = max(roiW, 1.0); roiH = max(roiH, 1.0); }
  g.binH = roiH / f32(outH);
  g.binW = roiW / f32(outW);
  g.gridH = sampling;
  g.gridW = sampling;
  if (sampling <= 0) { g.gridH = i32(ceil(roiH / f32(outH))); g.gridW = i32(ceil(roiW / f32(outW))); }
  g.count = f32(max(g.gridH * g.gridW, 1));
  return g;
}
`;

/**
 * Declares `struct BilinearTaps` and `fn bilinearTaps(y, x, h, w)`: the pixel indices (row · w + column) of
 * the four taps in the order (yl, xl), (yl, xh), (yh, xl), (yh, xh), their weights (hy·hx, hy·lx, ly·hx,
 * ly·lx) and whether the point contributes at all.
 *
 * @example
 * ```ts
 * import { BILINEAR_TAPS_WGSL } from "./roi_sampling.wgsl.ts";
 * console.log(BILINEAR_TAPS_WGSL.includes("fn bilinearTaps"));
 * ```
 */
export const BILINEAR_TAPS_WGSL = /* wgsl */ `
struct BilinearTaps { valid: bool, i: vec4u, w: vec4f }

fn bilinearTaps(yIn: f32, xIn: f32, h: u32, w: u32) -> BilinearTaps {
  var t: BilinearTaps;
  t.valid = !(yIn < -1.0 || yIn > f32(h) || xIn < -1.0 || xIn > f32(w));
  if (!t.valid) { return t; }
  var y = max(yIn, 0.0);
  var x = max(xIn, 0.0);
  var yl = u32(y);
  var xl = u32(x);
  var yh = yl + 1u;
  var xh = xl + 1u;
  if (yl >= h - 1u) { yl = h - 1u; yh = yl; y = f32(yl); }
  if (xl >= w - 1u) { xl = w - 1u; xh = xl; x = f32(xl); }
  let ly = y - f32(yl);
  let lx = x - f32(xl);
  let hy = 1.0 - ly;
  let hx = 1.0 - lx;
  t.i = vec4u(yl * w + xl, yl * w + xh, yh * w + xl, yh * w + xh);
  t.w = vec4f(hy * hx, hy * lx, ly * hx, ly * lx);
  return t;
}
`;
