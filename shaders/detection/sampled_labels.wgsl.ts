/**
 * WGSL that turns sampler outputs into loss inputs (dispatched by `ops/detection/sampled_labels.ts`).
 * @module
 */
import { kernel1dWgsl } from "../common.wgsl.ts";

/**
 * `out[i] = label[i] > 0` (positive RoIs among sampled slots; −1 empty, 0 background).
 *
 * @example
 * ```ts
 * import { LABEL_POSITIVE_WGSL } from "./sampled_labels.wgsl.ts";
 * console.log(LABEL_POSITIVE_WGSL.includes("labels[i] > 0"));
 * ```
 */
export const LABEL_POSITIVE_WGSL = kernel1dWgsl(
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
 * import { SAMPLED_BINARY_WGSL } from "./sampled_labels.wgsl.ts";
 * console.log(SAMPLED_BINARY_WGSL.includes("negative"));
 * ```
 */
export const SAMPLED_BINARY_WGSL = kernel1dWgsl(
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
