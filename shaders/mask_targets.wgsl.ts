/**
 * WGSL of Mask R-CNN's mask targets (torchvision `project_masks_on_boxes`): RoIAlign of the matched GT's
 * 0/1 mask over the RoI, `roi_align(mask[:, None].float(), rois, (M, M), 1.0)` with the defaults
 * sampling_ratio = −1 (adaptive grid) and aligned = False. The arithmetic is `shaders/roi_align.wgsl.ts`'s
 * at scale 1, one channel, reading the mask bytes (4 per u32 word) at the mask's own size.
 *
 * One invocation per output pixel (r, ph, pw) of `out [R, M, M]`; zeros for empty slots (image < 0) and
 * for a matched index outside the image's GT.
 * @module
 */
import { LINEAR_INDEX_WGSL, MAIN_1D_ARGS, WORKGROUP_1D } from "./common.wgsl.ts";

/**
 * The mask-target kernel. Bindings: rois [R, 5], matched [R] i32, table [B, 2], maskTable [Gtot, 4],
 * words, out.
 *
 * @example
 * ```ts
 * import { MASK_TARGETS_WGSL } from "./mask_targets.wgsl.ts";
 * console.log(MASK_TARGETS_WGSL.includes("fn bilinear"));
 * ```
 */
export const MASK_TARGETS_WGSL = /* wgsl */ `
struct Params { total: u32, size: u32, images: u32, sampling: i32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> rois: array<f32>;
@group(0) @binding(2) var<storage, read> matched: array<i32>;
@group(0) @binding(3) var<storage, read> table: array<vec2u>;
@group(0) @binding(4) var<storage, read> maskTable: array<vec4u>;
@group(0) @binding(5) var<storage, read> words: array<u32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;
${LINEAR_INDEX_WGSL}

fn pixel(base: u32, i: u32) -> f32 {
  return f32((words[base + (i >> 2u)] >> ((i & 3u) * 8u)) & 0xffu);
}

// torchvision's bilinear_interpolate: zero outside [-1, H] x [-1, W], clamp to the last row/column.
fn bilinear(base: u32, yIn: f32, xIn: f32, h: u32, w: u32) -> f32 {
  if (yIn < -1.0 || yIn > f32(h) || xIn < -1.0 || xIn > f32(w)) { return 0.0; }
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
  return (hy * hx) * pixel(base, yl * w + xl) + (hy * lx) * pixel(base, yl * w + xh) +
    (ly * hx) * pixel(base, yh * w + xl) + (ly * lx) * pixel(base, yh * w + xh);
}

@compute @workgroup_size(${WORKGROUP_1D})
fn main(${MAIN_1D_ARGS}) {
  let idx = linearIndex(wid, lid, nwg);
  if (idx >= p.total) { return; }
  let pw = idx % p.size;
  let ph = (idx / p.size) % p.size;
  let r = idx / (p.size * p.size);
  let b = i32(rois[r * 5u]);
  let m = matched[r];
  if (b < 0 || u32(b) >= p.images || m < 0 || u32(m) >= table[b].y) { out[idx] = 0.0; return; }
  let g = maskTable[table[b].x + u32(m)];
  let h = g.y;
  let w = g.z;
  let startW = rois[r * 5u + 1u]; // spatial scale 1, no half-pixel offset (aligned = False)
  let startH = rois[r * 5u + 2u];
  let roiW = max(rois[r * 5u + 3u] - startW, 1.0);
  let roiH = max(rois[r * 5u + 4u] - startH, 1.0);
  let binH = roiH / f32(p.size);
  let binW = roiW / f32(p.size);
  var gridH = p.sampling;
  var gridW = p.sampling;
  if (p.sampling <= 0) { gridH = i32(ceil(roiH / f32(p.size))); gridW = i32(ceil(roiW / f32(p.size))); }
  let count = f32(max(gridH * gridW, 1));
  var acc = 0.0;
  for (var iy = 0; iy < gridH; iy++) {
    let y = startH + f32(ph) * binH + (f32(iy) + 0.5) * binH / f32(gridH);
    for (var ix = 0; ix < gridW; ix++) {
      let x = startW + f32(pw) * binW + (f32(ix) + 0.5) * binW / f32(gridW);
      acc += bilinear(g.x, y, x, h, w);
    }
  }
  out[idx] = acc / count;
}
`;
