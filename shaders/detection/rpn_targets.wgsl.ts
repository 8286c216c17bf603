/**
 * WGSL of the RPN's training targets (torchvision `RegionProposalNetwork.assign_targets_to_anchors` +
 * `box_coder.encode`, the formula of `shaders/box_coder.wgsl.ts`) and the snippets shared with
 * `shaders/detection/roi_targets.wgsl.ts`. Kernels bind at most 7
 * storage buffers (portable below WebGPU's default of 8).
 *
 * Match codes: ≥ 0 GT index within the image, −1 background, −2 between thresholds, −3 invalid.
 * Regression targets use torchvision's `encode_boxes` order of operations; where the image has no GT they
 * are 0 (torchvision encodes an all-zero box there, giving −inf, but only positives are ever used).
 * @module
 */
import { ENCODE_FN_WGSL } from "../box_coder.wgsl.ts";
import { kernel1dWgsl } from "../common.wgsl.ts";

/** `fn labelOf(match, seg)`: class of a match code (needs `gtLabels`). */
export const LABEL_FN_WGSL = /* wgsl */ `
fn labelOf(m: i32, seg: vec2u) -> i32 {
  if (m >= 0) { return gtLabels[seg.x + u32(m)]; }
  return select(-1, 0, m == -1);
}
`;

/**
 * The params struct (fields in WGSL syntax) and its binding 0.
 *
 * @example
 * ```ts
 * import { paramsWgsl } from "./rpn_targets.wgsl.ts";
 * console.log(paramsWgsl("total: u32").includes("var<uniform> p: Params"));
 * ```
 */
export const paramsWgsl = (fields: string): string => `
struct Params { ${fields} }
@group(0) @binding(0) var<uniform> p: Params;`;

/**
 * RPN: labels (1 matched, 0 background, −1 ignored/invalid), matched GT boxes (index clamped at 0, zeros
 * without GT) and targets encoded against the anchors, per (image, anchor).
 *
 * @example
 * ```ts
 * import { RPN_ASSIGN_WGSL } from "./rpn_targets.wgsl.ts";
 * console.log(RPN_ASSIGN_WGSL.includes("encodeBox"));
 * ```
 */
export const RPN_ASSIGN_WGSL = kernel1dWgsl(
  "total: u32, perImage: u32, anchorStride: u32, _p: u32, w: vec4f",
  `@group(0) @binding(1) var<storage, read> matches: array<i32>;
@group(0) @binding(2) var<storage, read> table: array<vec2u>;
@group(0) @binding(3) var<storage, read> gtBoxes: array<vec4f>;
@group(0) @binding(4) var<storage, read> anchors: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> labels: array<i32>;
@group(0) @binding(6) var<storage, read_write> matched: array<vec4f>;
@group(0) @binding(7) var<storage, read_write> targets: array<vec4f>;`,
  ENCODE_FN_WGSL,
  "e",
) + /* wgsl */ `
  if (e >= p.total) { return; }
  let b = e / p.perImage;
  let seg = table[b];
  let m = matches[e];
  labels[e] = select(select(-1, 0, m == -1), 1, m >= 0);
  var box = vec4f(0.0);
  var delta = vec4f(0.0);
  if (seg.y > 0u) {
    box = gtBoxes[seg.x + u32(max(m, 0))];
    delta = encodeBox(box, anchors[b * p.anchorStride + e % p.perImage], p.w);
  }
  matched[e] = box;
  targets[e] = delta;
}
`;
