/**
 * WGSL of torchvision's `box_iou`, in its order of f32 operations: areas (x2 − x1)·(y2 − y1), the
 * intersection's sides clamped at 0, union = area1 + area2 − inter, iou = inter / union. The function is
 * shared with the matcher (`shaders/detection/matcher.wgsl.ts`) so a fused match recomputes bit-identical IoUs.
 * @module
 */
import { LINEAR_INDEX_WGSL, MAIN_1D_ARGS, WORKGROUP_1D } from "./common.wgsl.ts";

/**
 * `fn boxIou(a: vec4f, b: vec4f) -> f32`: IoU of two (x1, y1, x2, y2) boxes (a is the "boxes1" side).
 *
 * @example
 * ```ts
 * import { BOX_IOU_FN_WGSL } from "./box_iou.wgsl.ts";
 * console.log(BOX_IOU_FN_WGSL.includes("fn boxIou"));
 * ```
 */
export const BOX_IOU_FN_WGSL = /* wgsl */ `
fn boxIou(a: vec4f, b: vec4f) -> f32 {
  let area1 = (a.z - a.x) * (a.w - a.y);
  let area2 = (b.z - b.x) * (b.w - b.y);
  let wh = max(min(a.zw, b.zw) - max(a.xy, b.xy), vec2f(0.0));
  let inter = wh.x * wh.y;
  let uni = (area1 + area2) - inter;
  return inter / uni;
}
`;

/**
 * Pairwise IoU, one invocation per output element of `out [rows, M]`. Row r (a box of `a`) belongs to
 * image `imageOf(r)` (from the segment table `images [B, 2]` = (first row, rows)); it is compared with the
 * M boxes of that image, `b[image · bStride + m]` (bStride = 0: every image shares `b`).
 *
 * @example
 * ```ts
 * import { BOX_IOU_WGSL } from "./box_iou.wgsl.ts";
 * console.log(BOX_IOU_WGSL.includes("boxIou("));
 * ```
 */
export const BOX_IOU_WGSL = /* wgsl */ `
struct Params { rows: u32, m: u32, images: u32, bStride: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4f>;
@group(0) @binding(2) var<storage, read> b: array<vec4f>;
@group(0) @binding(3) var<storage, read> images: array<vec2u>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
${BOX_IOU_FN_WGSL}
${LINEAR_INDEX_WGSL}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(${MAIN_1D_ARGS}) {
  let i = linearIndex(wid, lid, nwg);
  if (i >= p.rows * p.m) { return; }
  let r = i / p.m;
  let m = i % p.m;
  var image = 0u;
  while (image + 1u < p.images && r >= images[image + 1u].x) { image++; }
  out[i] = boxIou(a[r], b[image * p.bStride + m]);
}
`;
