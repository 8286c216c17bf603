/**
 * WGSL of the candidate filters after the RPN and the box head (torchvision `rpn.py` `filter_proposals`,
 * `roi_heads.py` `postprocess_detections`; dispatched by `ops/detection/candidates.ts`).
 * @module
 */
import { kernel1dWgsl, SIGMOID1_WGSL } from "../common.wgsl.ts";

/**
 * RPN candidates: score = sigmoid(logit at the top-k index), valid = index ≥ 0, both sides ≥ minSize and
 * score ≥ scoreThresh; level = which FPN level the candidate came from.
 *
 * @example
 * ```ts
 * import { RPN_CANDIDATES_WGSL } from "./candidates.wgsl.ts";
 * console.log(RPN_CANDIDATES_WGSL.includes("scoreThresh"));
 * ```
 */
export const RPN_CANDIDATES_WGSL = kernel1dWgsl(
  "n: u32, perLevel: u32, levels: u32, rowLen: u32, minSize: f32, scoreThresh: f32",
  `@group(0) @binding(1) var<storage, read> topIdx: array<i32>;
@group(0) @binding(2) var<storage, read> logits: array<f32>;
@group(0) @binding(3) var<storage, read> boxes: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> scores: array<f32>;
@group(0) @binding(5) var<storage, read_write> valid: array<u32>;
@group(0) @binding(6) var<storage, read_write> level: array<i32>;`,
  SIGMOID1_WGSL,
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
 * import { BOX_CANDIDATES_WGSL } from "./candidates.wgsl.ts";
 * console.log(BOX_CANDIDATES_WGSL.includes("classes"));
 * ```
 */
export const BOX_CANDIDATES_WGSL = kernel1dWgsl(
  "n: u32, classes: u32, scoreThresh: f32, minSize: f32",
  `@group(0) @binding(1) var<storage, read> probs: array<f32>;
@group(0) @binding(2) var<storage, read> boxes: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> rowValid: array<u32>;
@group(0) @binding(4) var<storage, read_write> outBoxes: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> outScores: array<f32>;
@group(0) @binding(6) var<storage, read_write> outLabels: array<i32>;
@group(0) @binding(7) var<storage, read_write> outValid: array<u32>;`,
  SIGMOID1_WGSL,
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
