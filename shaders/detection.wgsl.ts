/**
 * WGSL of the small fused kernels between Mask R-CNN stages: RPN candidate scoring and validity, box-head
 * candidates per class, the predicted class's mask logits, box rescaling and RoI rows. Each mirrors a few
 * lines of torchvision's `rpn.py` / `roi_heads.py` / `transform.py`, cited in `ops/detection.ts`.
 * @module
 */
import { LINEAR_INDEX_WGSL, MAIN_1D_ARGS, WORKGROUP_1D } from "./common.wgsl.ts";

const HEADER = (params: string, bindings: string) => /* wgsl */ `
struct Params { ${params} }
@group(0) @binding(0) var<uniform> p: Params;
${bindings}
${LINEAR_INDEX_WGSL}
fn sigmoid1(x: f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }
@compute @workgroup_size(${WORKGROUP_1D})
fn main(${MAIN_1D_ARGS}) {
  let i = linearIndex(wid, lid, nwg);`;

/**
 * RPN candidates: score = sigmoid(logit at the top-k index), valid = index ≥ 0, both sides ≥ minSize and
 * score ≥ scoreThresh; level = which FPN level the candidate came from.
 *
 * @example
 * ```ts
 * import { RPN_CANDIDATES_WGSL } from "./detection.wgsl.ts";
 * console.log(RPN_CANDIDATES_WGSL.includes("scoreThresh"));
 * ```
 */
export const RPN_CANDIDATES_WGSL = HEADER(
  "n: u32, perLevel: u32, levels: u32, rowLen: u32, minSize: f32, scoreThresh: f32",
  `@group(0) @binding(1) var<storage, read> topIdx: array<i32>;
@group(0) @binding(2) var<storage, read> logits: array<f32>;
@group(0) @binding(3) var<storage, read> boxes: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> scores: array<f32>;
@group(0) @binding(5) var<storage, read_write> valid: array<u32>;
@group(0) @binding(6) var<storage, read_write> level: array<i32>;`,
) + /* wgsl */ `
  if (i >= p.n) { return; }
  let image = i / (p.perLevel * p.levels);
  level[i] = i32((i / p.perLevel) % p.levels);
  let k = topIdx[i];
  if (k < 0) {
    scores[i] = -3.0e38;
    valid[i] = 0u;
    return;
  }
  let s = sigmoid1(logits[image * p.rowLen + u32(k)]);
  let b = boxes[i];
  scores[i] = s;
  valid[i] = select(0u, 1u, b.z - b.x >= p.minSize && b.w - b.y >= p.minSize && s >= p.scoreThresh);
}
`;

/**
 * Box-head candidates: for each proposal r and foreground class c ≥ 1, the class box, its softmax score,
 * the label c and valid = proposal valid, score > scoreThresh and both sides ≥ minSize.
 *
 * @example
 * ```ts
 * import { BOX_CANDIDATES_WGSL } from "./detection.wgsl.ts";
 * console.log(BOX_CANDIDATES_WGSL.includes("classes"));
 * ```
 */
export const BOX_CANDIDATES_WGSL = HEADER(
  "n: u32, classes: u32, scoreThresh: f32, minSize: f32",
  `@group(0) @binding(1) var<storage, read> probs: array<f32>;
@group(0) @binding(2) var<storage, read> boxes: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> rowValid: array<u32>;
@group(0) @binding(4) var<storage, read_write> outBoxes: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> outScores: array<f32>;
@group(0) @binding(6) var<storage, read_write> outLabels: array<i32>;
@group(0) @binding(7) var<storage, read_write> outValid: array<u32>;`,
) + /* wgsl */ `
  if (i >= p.n) { return; }
  let fg = p.classes - 1u;
  let r = i / fg;
  let c = i % fg + 1u;
  let b = boxes[r * p.classes + c];
  let s = probs[r * p.classes + c];
  outBoxes[i] = b;
  outScores[i] = s;
  outLabels[i] = i32(c);
  let ok = rowValid[r] != 0u && s > p.scoreThresh && b.z - b.x >= p.minSize && b.w - b.y >= p.minSize;
  outValid[i] = select(0u, 1u, ok);
}
`;

/**
 * `sigmoid(logits[r, y, x, label[r]])`: the mask of each detection's predicted class (0 for padding rows).
 *
 * @example
 * ```ts
 * import { SELECT_CLASS_SIGMOID_WGSL } from "./detection.wgsl.ts";
 * console.log(SELECT_CLASS_SIGMOID_WGSL.includes("labels"));
 * ```
 */
export const SELECT_CLASS_SIGMOID_WGSL = HEADER(
  "n: u32, pixels: u32, classes: u32",
  `@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;`,
) + /* wgsl */ `
  if (i >= p.n) { return; }
  let label = labels[i / p.pixels];
  var value = 0.0;
  if (label >= 0 && u32(label) < p.classes) { value = sigmoid1(logits[i * p.classes + u32(label)]); }
  out[i] = value;
}
`;

/**
 * Per-image box scaling (x by the width ratio, y by the height ratio) for up to 14 images.
 *
 * @example
 * ```ts
 * import { SCALE_BOXES_WGSL } from "./detection.wgsl.ts";
 * console.log(SCALE_BOXES_WGSL.includes("ratios"));
 * ```
 */
export const SCALE_BOXES_WGSL = HEADER(
  "n: u32, perImage: u32, images: u32, pad: u32, ratios: array<vec4<f32>, 14>",
  `@group(0) @binding(1) var<storage, read> boxes: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;`,
) + /* wgsl */ `
  if (i >= p.n) { return; }
  let r = p.ratios[min(i / p.perImage, p.images - 1u)];
  out[i] = boxes[i] * vec4<f32>(r.y, r.x, r.y, r.x);
}
`;

/**
 * RoI rows `(batchIndex, x1, y1, x2, y2)` from per-image box lists of `perImage` rows each.
 *
 * @example
 * ```ts
 * import { BOXES_TO_ROIS_WGSL } from "./detection.wgsl.ts";
 * console.log(BOXES_TO_ROIS_WGSL.includes("perImage"));
 * ```
 */
export const BOXES_TO_ROIS_WGSL = HEADER(
  "n: u32, perImage: u32",
  `@group(0) @binding(1) var<storage, read> boxes: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> rois: array<f32>;`,
) + /* wgsl */ `
  if (i >= p.n) { return; }
  let b = boxes[i];
  rois[5u * i] = f32(i / p.perImage);
  rois[5u * i + 1u] = b.x;
  rois[5u * i + 2u] = b.y;
  rois[5u * i + 3u] = b.z;
  rois[5u * i + 4u] = b.w;
}
`;

/**
 * `valid[i] = idx[i] >= 0` (keep lists are -1 padded).
 *
 * @example
 * ```ts
 * import { INDEX_VALID_WGSL } from "./detection.wgsl.ts";
 * console.log(INDEX_VALID_WGSL.includes("idx[i] >= 0"));
 * ```
 */
export const INDEX_VALID_WGSL = HEADER(
  "n: u32",
  `@group(0) @binding(1) var<storage, read> idx: array<i32>;
@group(0) @binding(2) var<storage, read_write> valid: array<u32>;`,
) + /* wgsl */ `
  if (i >= p.n) { return; }
  valid[i] = select(0u, 1u, idx[i] >= 0);
}
`;

/**
 * `out[i] = label[i] > 0` (positive RoIs among sampled slots; −1 empty, 0 background).
 *
 * @example
 * ```ts
 * import { LABEL_POSITIVE_WGSL } from "./detection.wgsl.ts";
 * console.log(LABEL_POSITIVE_WGSL.includes("labels[i] > 0"));
 * ```
 */
export const LABEL_POSITIVE_WGSL = HEADER(
  "n: u32",
  `@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read_write> positive: array<u32>;`,
) + /* wgsl */ `
  if (i >= p.n) { return; }
  positive[i] = select(0u, 1u, labels[i] > 0);
}
`;

/**
 * RPN objectness loss inputs from the sampler: target = 1 for sampled positives (else 0) and
 * valid = sampled positive or negative.
 *
 * @example
 * ```ts
 * import { SAMPLED_BINARY_WGSL } from "./detection.wgsl.ts";
 * console.log(SAMPLED_BINARY_WGSL.includes("negative"));
 * ```
 */
export const SAMPLED_BINARY_WGSL = HEADER(
  "n: u32",
  `@group(0) @binding(1) var<storage, read> positive: array<u32>;
@group(0) @binding(2) var<storage, read> negative: array<u32>;
@group(0) @binding(3) var<storage, read_write> targets: array<f32>;
@group(0) @binding(4) var<storage, read_write> valid: array<u32>;`,
) + /* wgsl */ `
  if (i >= p.n) { return; }
  let pos = positive[i] != 0u;
  targets[i] = select(0.0, 1.0, pos);
  valid[i] = select(0u, 1u, pos || negative[i] != 0u);
}
`;

/**
 * Fills kept slots in one pass: `boxes[i] = src[keep[i]]` (zeros where keep is −1 or out of range),
 * `rois[i] = (i / perImage, boxes[i])`, and with `labels` `labels[i] = srcLabels[keep[i]]` (0 where
 * missing), else `valid[i] = keep[i] >= 0`: gatherRows + boxesToRois + (gatherRows | indexValid) fused.
 *
 * @example
 * ```ts
 * import { gatherSlotsWgsl } from "./detection.wgsl.ts";
 * console.log(gatherSlotsWgsl(true).includes("srcLabels"));
 * ```
 */
export function gatherSlotsWgsl(labels: boolean): string {
  return HEADER(
    "n: u32, perImage: u32, srcRows: u32",
    `@group(0) @binding(1) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> keep: array<i32>;
${labels ? "@group(0) @binding(3) var<storage, read> srcLabels: array<i32>;" : ""}
@group(0) @binding(${labels ? 4 : 3}) var<storage, read_write> boxes: array<vec4<f32>>;
@group(0) @binding(${labels ? 5 : 4}) var<storage, read_write> rois: array<f32>;
@group(0) @binding(${labels ? 6 : 5}) var<storage, read_write> ${
      labels ? "labels: array<i32>" : "valid: array<u32>"
    };`,
  ) + /* wgsl */ `
  if (i >= p.n) { return; }
  let k = keep[i];
  let found = k >= 0 && u32(k) < p.srcRows;
  var b = vec4<f32>(0.0);
  if (found) { b = src[u32(k)]; }
  boxes[i] = b;
  rois[5u * i] = f32(i / p.perImage);
  rois[5u * i + 1u] = b.x;
  rois[5u * i + 2u] = b.y;
  rois[5u * i + 3u] = b.z;
  rois[5u * i + 4u] = b.w;
  ${
    labels
      ? "labels[i] = select(0, srcLabels[u32(max(k, 0))], found);"
      : "valid[i] = select(0u, 1u, k >= 0);"
  }
}
`;
}

/** Threads of the one workgroup of {@link COMPACT_FLAGS_WGSL}. */
export const COMPACT_WORKGROUP = 256;

/**
 * Stable compaction of flags in one workgroup: `index[j]` = the j-th flagged position (−1 from `total` on),
 * `total[0]` = the number flagged. Each thread counts a contiguous range, a workgroup scan gives its first
 * output slot.
 *
 * @example
 * ```ts
 * import { COMPACT_FLAGS_WGSL } from "./detection.wgsl.ts";
 * console.log(COMPACT_FLAGS_WGSL.includes("workgroupBarrier"));
 * ```
 */
export const COMPACT_FLAGS_WGSL = /* wgsl */ `
struct Params { n: u32, per: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> flags: array<u32>;
@group(0) @binding(2) var<storage, read_write> index: array<i32>;
@group(0) @binding(3) var<storage, read_write> total: array<u32>;
var<workgroup> sums: array<u32, ${COMPACT_WORKGROUP}>;
@compute @workgroup_size(${COMPACT_WORKGROUP})
fn main(@builtin(local_invocation_id) lid: vec3u) {
  let t = lid.x;
  let start = min(t * p.per, p.n);
  let end = min(start + p.per, p.n);
  var c = 0u;
  for (var i = start; i < end; i++) { if (flags[i] != 0u) { c++; } }
  sums[t] = c;
  workgroupBarrier();
  for (var off = 1u; off < ${COMPACT_WORKGROUP}u; off <<= 1u) {
    var v = 0u;
    if (t >= off) { v = sums[t - off]; }
    workgroupBarrier();
    sums[t] += v;
    workgroupBarrier();
  }
  let count = sums[${COMPACT_WORKGROUP - 1}];
  var j = sums[t] - c;
  for (var i = start; i < end; i++) {
    if (flags[i] != 0u) {
      index[j] = i32(i);
      j++;
    }
  }
  for (var i = count + t; i < p.n; i += ${COMPACT_WORKGROUP}u) { index[i] = -1; }
  if (t == 0u) { total[0] = count; }
}
`;
