/**
 * WGSL of the RoI heads' training-target glue (torchvision `RoIHeads.select_training_samples`): GT appended
 * to the proposals, per-candidate labels, the in-order compaction of the sampled candidates into fixed
 * slots, and the gathers that fill those slots. Every kernel binds at most 7 storage buffers.
 * @module
 */
import { kernel1dWgsl, WORKGROUP_1D } from "../common.wgsl.ts";
import { ENCODE_FN_WGSL } from "../box_coder.wgsl.ts";
import { LABEL_FN_WGSL, paramsWgsl } from "./rpn_targets.wgsl.ts";

/**
 * RoI heads' `add_gt_proposals`: candidates [B, P + Gmax] = the proposals, then the image's GT boxes;
 * slots past the image's GT count are invalid.
 *
 * @example
 * ```ts
 * import { APPEND_GT_WGSL } from "./roi_targets.wgsl.ts";
 * console.log(APPEND_GT_WGSL.includes("gtBoxes"));
 * ```
 */
export const APPEND_GT_WGSL = kernel1dWgsl(
  "total: u32, len: u32, proposals: u32, hasValid: u32",
  `@group(0) @binding(1) var<storage, read> proposals: array<vec4f>;
@group(0) @binding(2) var<storage, read> proposalValid: array<u32>;
@group(0) @binding(3) var<storage, read> table: array<vec2u>;
@group(0) @binding(4) var<storage, read> gtBoxes: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> cand: array<vec4f>;
@group(0) @binding(6) var<storage, read_write> candValid: array<u32>;`,
  "",
  "e",
) + /* wgsl */ `
  if (e >= p.total) { return; }
  let b = e / p.len;
  let l = e % p.len;
  var box = vec4f(0.0);
  var ok = 0u;
  if (l < p.proposals) {
    let at = b * p.proposals + l;
    box = proposals[at];
    ok = select(1u, proposalValid[at], p.hasValid != 0u);
  } else {
    let seg = table[b];
    let j = l - p.proposals;
    if (j < seg.y) { box = gtBoxes[seg.x + j]; ok = 1u; }
  }
  cand[e] = box;
  candValid[e] = ok;
}
`;

/**
 * Per-candidate class labels for the sampler: the matched GT's label, 0 background, −1 ignored.
 *
 * @example
 * ```ts
 * import { CANDIDATE_LABELS_WGSL } from "./roi_targets.wgsl.ts";
 * console.log(CANDIDATE_LABELS_WGSL.includes("labelOf"));
 * ```
 */
export const CANDIDATE_LABELS_WGSL = kernel1dWgsl(
  "total: u32, len: u32",
  `@group(0) @binding(1) var<storage, read> matches: array<i32>;
@group(0) @binding(2) var<storage, read> table: array<vec2u>;
@group(0) @binding(3) var<storage, read> gtLabels: array<i32>;
@group(0) @binding(4) var<storage, read_write> labels: array<i32>;`,
  LABEL_FN_WGSL,
  "e",
) + /* wgsl */ `
  if (e >= p.total) { return; }
  labels[e] = labelOf(matches[e], table[e / p.len]);
}
`;

/**
 * One workgroup per image: an in-order scan of the sampled (positive or negative) and the positive
 * flags, writing candidate indices into `sampled [B, S]` and `positive [B, Pc]`, −1 padded (torchvision
 * keeps sampled candidates in index order: `torch.where(pos | neg)`).
 *
 * @example
 * ```ts
 * import { SELECT_SAMPLED_WGSL } from "./roi_targets.wgsl.ts";
 * console.log(SELECT_SAMPLED_WGSL.includes("workgroupBarrier"));
 * ```
 */
export const SELECT_SAMPLED_WGSL = /* wgsl */ `${paramsWgsl("len: u32, cap: u32, posCap: u32")}
@group(0) @binding(1) var<storage, read> pos: array<u32>;
@group(0) @binding(2) var<storage, read> neg: array<u32>;
@group(0) @binding(3) var<storage, read_write> sampled: array<i32>;
@group(0) @binding(4) var<storage, read_write> positive: array<i32>;
var<workgroup> scan: array<u32, ${WORKGROUP_1D}>;
@compute @workgroup_size(${WORKGROUP_1D})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let b = wid.x;
  var base = vec2u(0u);
  for (var c0 = 0u; c0 < p.len; c0 += ${WORKGROUP_1D}u) {
    let l = c0 + lid.x;
    var f = 0u;
    if (l < p.len) {
      let isPos = pos[b * p.len + l] != 0u;
      f = select(0u, 1u, isPos || neg[b * p.len + l] != 0u) + select(0u, 0x10000u, isPos);
    }
    scan[lid.x] = f;
    workgroupBarrier();
    for (var off = 1u; off < ${WORKGROUP_1D}u; off *= 2u) {
      var v = scan[lid.x];
      if (lid.x >= off) { v += scan[lid.x - off]; }
      workgroupBarrier();
      scan[lid.x] = v;
      workgroupBarrier();
    }
    let excl = scan[lid.x] - f;
    let s = base.x + (excl & 0xffffu);
    let q = base.y + (excl >> 16u);
    if ((f & 0xffffu) != 0u && s < p.cap) { sampled[b * p.cap + s] = i32(l); }
    if ((f >> 16u) != 0u && q < p.posCap) { positive[b * p.posCap + q] = i32(l); }
    let sum = scan[${WORKGROUP_1D - 1}u];
    base += vec2u(sum & 0xffffu, sum >> 16u);
    workgroupBarrier();
  }
  for (var s = base.x + lid.x; s < p.cap; s += ${WORKGROUP_1D}u) { sampled[b * p.cap + s] = -1; }
  for (var q = base.y + lid.x; q < p.posCap; q += ${WORKGROUP_1D}u) { positive[b * p.posCap + q] = -1; }
}
`;

/**
 * Fills the box outputs of K slots per image from candidate indices: `rois [B·K, 5]` (image, box; image
 * −1 in empty slots) and regression targets against the matched GT (clamped index, as torchvision).
 *
 * @example
 * ```ts
 * import { GATHER_SLOT_BOXES_WGSL } from "./roi_targets.wgsl.ts";
 * console.log(GATHER_SLOT_BOXES_WGSL.includes("rois"));
 * ```
 */
export const GATHER_SLOT_BOXES_WGSL = kernel1dWgsl(
  "total: u32, slots: u32, len: u32, _p: u32, w: vec4f",
  `@group(0) @binding(1) var<storage, read> idx: array<i32>;
@group(0) @binding(2) var<storage, read> cand: array<vec4f>;
@group(0) @binding(3) var<storage, read> matches: array<i32>;
@group(0) @binding(4) var<storage, read> table: array<vec2u>;
@group(0) @binding(5) var<storage, read> gtBoxes: array<vec4f>;
@group(0) @binding(6) var<storage, read_write> rois: array<f32>;
@group(0) @binding(7) var<storage, read_write> targets: array<vec4f>;`,
  ENCODE_FN_WGSL,
  "e",
) + /* wgsl */ `
  if (e >= p.total) { return; }
  let b = e / p.slots;
  let l = idx[e];
  var box = vec4f(0.0);
  var delta = vec4f(0.0);
  var image = -1.0;
  if (l >= 0) {
    let at = b * p.len + u32(l);
    let seg = table[b];
    box = cand[at];
    image = f32(b);
    if (seg.y > 0u) { delta = encodeBox(gtBoxes[seg.x + u32(max(matches[at], 0))], box, p.w); }
  }
  rois[5u * e] = image;
  rois[5u * e + 1u] = box.x;
  rois[5u * e + 2u] = box.y;
  rois[5u * e + 3u] = box.z;
  rois[5u * e + 4u] = box.w;
  targets[e] = delta;
}
`;

/**
 * Fills the integer outputs of K slots per image: class label, matched GT index within the image
 * (clamped at 0 as torchvision's `matched_idxs`; −1 in empty slots) and the slot's validity.
 *
 * @example
 * ```ts
 * import { GATHER_SLOT_INTS_WGSL } from "./roi_targets.wgsl.ts";
 * console.log(GATHER_SLOT_INTS_WGSL.includes("labelOf"));
 * ```
 */
export const GATHER_SLOT_INTS_WGSL = kernel1dWgsl(
  "total: u32, slots: u32, len: u32",
  `@group(0) @binding(1) var<storage, read> idx: array<i32>;
@group(0) @binding(2) var<storage, read> matches: array<i32>;
@group(0) @binding(3) var<storage, read> table: array<vec2u>;
@group(0) @binding(4) var<storage, read> gtLabels: array<i32>;
@group(0) @binding(5) var<storage, read_write> labels: array<i32>;
@group(0) @binding(6) var<storage, read_write> matched: array<i32>;
@group(0) @binding(7) var<storage, read_write> valid: array<u32>;`,
  LABEL_FN_WGSL,
  "e",
) + /* wgsl */ `
  if (e >= p.total) { return; }
  let b = e / p.slots;
  let l = idx[e];
  var label = -1;
  var m = -1;
  if (l >= 0) {
    let at = b * p.len + u32(l);
    label = labelOf(matches[at], table[b]);
    m = max(matches[at], 0);
  }
  labels[e] = label;
  matched[e] = m;
  valid[e] = select(0u, 1u, l >= 0);
}
`;
