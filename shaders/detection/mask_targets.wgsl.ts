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
import { kernel1dWgsl } from "../common.wgsl.ts";
import { BILINEAR_TAPS_WGSL, ROI_GRID_WGSL } from "../roi_sampling.wgsl.ts";

/**
 * The mask-target kernel. Bindings: rois [R, 5], matched [R] i32, table [B, 2], maskTable [Gtot, 4],
 * words, out.
 *
 * @example
 * ```ts
 * import { MASK_TARGETS_WGSL } from "./mask_targets.wgsl.ts";
 * console.log(MASK_TARGETS_WGSL.includes("fn bilinearTaps"));
 * ```
 */
export const MASK_TARGETS_WGSL = kernel1dWgsl(
  "total: u32, size: u32, images: u32, sampling: i32",
  `@group(0) @binding(1) var<storage, read> rois: array<f32>;
@group(0) @binding(2) var<storage, read> matched: array<i32>;
@group(0) @binding(3) var<storage, read> table: array<vec2u>;
@group(0) @binding(4) var<storage, read> maskTable: array<vec4u>;
@group(0) @binding(5) var<storage, read> words: array<u32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;`,
  `
fn pixel(base: u32, i: u32) -> f32 {
  return f32((words[base + (i >> 2u)] >> ((i & 3u) * 8u)) & 0xffu);
}

${ROI_GRID_WGSL}
${BILINEAR_TAPS_WGSL}
// torchvision's bilinear_interpolate over the four taps of the byte mask.
fn bilinear(base: u32, y: f32, x: f32, h: u32, w: u32) -> f32 {
  let t = bilinearTaps(y, x, h, w);
  if (!t.valid) { return 0.0; }
  return t.w.x * pixel(base, t.i.x) + t.w.y * pixel(base, t.i.y) + t.w.z * pixel(base, t.i.z) +
    t.w.w * pixel(base, t.i.w);
}`,
  "idx",
) + /* wgsl */ `
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
  // spatial scale 1, no half-pixel offset (aligned = False)
  let grid = roiGrid(rois[r * 5u + 1u], rois[r * 5u + 2u], rois[r * 5u + 3u], rois[r * 5u + 4u], 1.0, false,
                     p.size, p.size, p.sampling);
  var acc = 0.0;
  for (var iy = 0; iy < grid.gridH; iy++) {
    let y = grid.startH + f32(ph) * grid.binH + (f32(iy) + 0.5) * grid.binH / f32(grid.gridH);
    for (var ix = 0; ix < grid.gridW; ix++) {
      let x = grid.startW + f32(pw) * grid.binW + (f32(ix) + 0.5) * grid.binW / f32(grid.gridW);
      acc += bilinear(g.x, y, x, h, w);
    }
  }
  out[idx] = acc / grid.count;
}
`;
