/**
 * WGSL of torchvision's BoxCoder and box utilities. Boxes are `vec4<f32>` (x1, y1, x2, y2); one thread
 * per box (decode: per (box, class)). Arithmetic follows torchvision's order of operations: centre =
 * x1 + 0.5·width, deltas divided by the weights, dw/dh clamped above at `bbox_xform_clip` before `exp`.
 * @module
 */
import { LINEAR_INDEX_WGSL, MAIN_1D_ARGS, WORKGROUP_1D } from "./common.wgsl.ts";

/** Most images a {@link CLIP_BOXES_WGSL} dispatch can take (their sizes live in the 256-byte params). */
export const CLIP_MAX_IMAGES = 15;

/**
 * Decode: `out[r, c] = apply(deltas[r, c] / weights, boxes[r])`.
 *
 * @example
 * ```ts
 * import { DECODE_BOXES_WGSL } from "./box_coder.wgsl.ts";
 * console.log(DECODE_BOXES_WGSL.includes("exp("));
 * ```
 */
export const DECODE_BOXES_WGSL: string = decodeKernel(
  "struct Params { total: u32, classes: u32, clip: f32, _pad: u32, weights: vec4<f32> }",
  "  out[i] = vec4<f32>(pred_ctr - half, pred_ctr + half);",
);

/** Most images a {@link decodeBoxesWgsl} dispatch with clipping can take (sizes in the 256-byte params). */
export const DECODE_CLIP_MAX_IMAGES = 14;

/**
 * Decode, optionally clipped to each row's image (`clipToImage`): {@link DECODE_BOXES_WGSL} followed by
 * {@link CLIP_BOXES_WGSL}'s clamp in the same pass; `images[k]` = (height, width, end row) of image k.
 *
 * @example
 * ```ts
 * import { decodeBoxesWgsl } from "./box_coder.wgsl.ts";
 * console.log(decodeBoxesWgsl(true).includes("clamp("));
 * ```
 */
export function decodeBoxesWgsl(clipToImage: boolean): string {
  if (!clipToImage) return DECODE_BOXES_WGSL;
  return decodeKernel(
    `struct Params {
  total: u32, classes: u32, clip: f32, count: u32, weights: vec4<f32>,
  images: array<vec4<u32>, ${DECODE_CLIP_MAX_IMAGES}>,
}`,
    `  var k = 0u;
  while (k + 1u < p.count && row >= p.images[k].z) { k++; }
  let hw = vec2<f32>(p.images[k].xy);
  let limit = vec4<f32>(hw.y, hw.x, hw.y, hw.x);
  out[i] = clamp(vec4<f32>(pred_ctr - half, pred_ctr + half), vec4<f32>(0.0), limit);`,
  );
}

/** The decode kernel around its params struct and its store (plain, or clamped to the row's image). */
function decodeKernel(params: string, store: string): string {
  return /* wgsl */ `
${params}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> deltas: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> boxes: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4<f32>>;
${LINEAR_INDEX_WGSL}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(${MAIN_1D_ARGS}) {
  let i = linearIndex(wid, lid, nwg);
  if (i >= p.total) { return; }
  let row = i / p.classes;
  let b = boxes[row];
  let size = b.zw - b.xy;
  let ctr = b.xy + 0.5 * size;
  let d = deltas[i] / p.weights;
  let dwh = min(d.zw, vec2<f32>(p.clip));
  let pred_ctr = d.xy * size + ctr;
  let half = 0.5 * (exp(dwh) * size);
${store}
}
`;
}

/**
 * `fn encodeBox(gt, proposal, weights) -> vec4f`: torchvision `encode_boxes` for one box, in its order of
 * operations. The one home of the formula: {@link ENCODE_BOXES_WGSL} and the RPN / RoI-head target kernels
 * (shaders/detection/rpn_targets.wgsl.ts, roi_targets.wgsl.ts) call it.
 *
 * @example
 * ```ts
 * import { ENCODE_FN_WGSL } from "./box_coder.wgsl.ts";
 * console.log(ENCODE_FN_WGSL.includes("fn encodeBox"));
 * ```
 */
export const ENCODE_FN_WGSL = /* wgsl */ `
fn encodeBox(g: vec4f, e: vec4f, w: vec4f) -> vec4f {
  let ex_size = e.zw - e.xy;
  let ex_ctr = e.xy + 0.5 * ex_size;
  let gt_size = g.zw - g.xy;
  let gt_ctr = g.xy + 0.5 * gt_size;
  return vec4f(w.xy * (gt_ctr - ex_ctr) / ex_size, w.zw * log(gt_size / ex_size));
}
`;

/**
 * Encode: regression targets of `gt[r]` relative to `proposals[r]` ({@link ENCODE_FN_WGSL}).
 *
 * @example
 * ```ts
 * import { ENCODE_BOXES_WGSL } from "./box_coder.wgsl.ts";
 * console.log(ENCODE_BOXES_WGSL.includes("encodeBox("));
 * ```
 */
export const ENCODE_BOXES_WGSL = /* wgsl */ `
struct Params { total: u32, _p0: u32, _p1: u32, _p2: u32, weights: vec4<f32> }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> gt: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> proposals: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4<f32>>;
${ENCODE_FN_WGSL}
${LINEAR_INDEX_WGSL}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(${MAIN_1D_ARGS}) {
  let i = linearIndex(wid, lid, nwg);
  if (i >= p.total) { return; }
  out[i] = encodeBox(gt[i], proposals[i], p.weights);
}
`;

/**
 * Clip to the image of each box: x to [0, width], y to [0, height]. Images are given by cumulative box
 * counts (`images[k].z` = first box after image k).
 *
 * @example
 * ```ts
 * import { CLIP_BOXES_WGSL } from "./box_coder.wgsl.ts";
 * console.log(CLIP_BOXES_WGSL.includes("clamp("));
 * ```
 */
export const CLIP_BOXES_WGSL = /* wgsl */ `
struct Params { total: u32, per_row: u32, count: u32, _pad: u32, images: array<vec4<u32>, ${CLIP_MAX_IMAGES}> }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> boxes: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;
${LINEAR_INDEX_WGSL}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(${MAIN_1D_ARGS}) {
  let i = linearIndex(wid, lid, nwg);
  if (i >= p.total) { return; }
  let row = i / p.per_row;
  var k = 0u;
  while (k + 1u < p.count && row >= p.images[k].z) { k++; }
  let hw = vec2<f32>(p.images[k].xy);
  let limit = vec4<f32>(hw.y, hw.x, hw.y, hw.x);
  out[i] = clamp(boxes[i], vec4<f32>(0.0), limit);
}
`;

/**
 * Keep-mask of boxes whose width and height are both ≥ `min_size` (1 = keep).
 *
 * @example
 * ```ts
 * import { REMOVE_SMALL_BOXES_WGSL } from "./box_coder.wgsl.ts";
 * console.log(REMOVE_SMALL_BOXES_WGSL.includes("min_size"));
 * ```
 */
export const REMOVE_SMALL_BOXES_WGSL = /* wgsl */ `
struct Params { total: u32, min_size: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> boxes: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> keep: array<u32>;
${LINEAR_INDEX_WGSL}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(${MAIN_1D_ARGS}) {
  let i = linearIndex(wid, lid, nwg);
  if (i >= p.total) { return; }
  let b = boxes[i];
  keep[i] = select(0u, 1u, b.z - b.x >= p.min_size && b.w - b.y >= p.min_size);
}
`;
