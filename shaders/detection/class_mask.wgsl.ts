/**
 * WGSL of torchvision's `maskrcnn_inference` class selection (dispatched by `ops/detection/class_mask.ts`).
 * @module
 */
import { kernel1dWgsl, SIGMOID1_WGSL } from "../common.wgsl.ts";

/**
 * `sigmoid(logits[r, y, x, label[r]])`: the mask of each detection's predicted class (0 for padding rows).
 *
 * @example
 * ```ts
 * import { SELECT_CLASS_SIGMOID_WGSL } from "./class_mask.wgsl.ts";
 * console.log(SELECT_CLASS_SIGMOID_WGSL.includes("labels"));
 * ```
 */
export const SELECT_CLASS_SIGMOID_WGSL = kernel1dWgsl(
  "n: u32, pixels: u32, classes: u32",
  `@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;`,
  SIGMOID1_WGSL,
) + /* wgsl */ `
  if (i >= p.n) { return; }
  let label = labels[i / p.pixels];
  var value = 0.0;
  if (label >= 0 && u32(label) < p.classes) { value = sigmoid1(logits[i * p.classes + u32(label)]); }
  out[i] = value;
}
`;
