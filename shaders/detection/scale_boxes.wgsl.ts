/**
 * WGSL of torchvision's `transform.resize_boxes` for a batch (dispatched by `ops/detection/scale_boxes.ts`).
 * @module
 */
import { kernel1dWgsl } from "../common.wgsl.ts";

/**
 * Per-image box scaling (x by the width ratio, y by the height ratio) for up to 14 images.
 *
 * @example
 * ```ts
 * import { SCALE_BOXES_WGSL } from "./scale_boxes.wgsl.ts";
 * console.log(SCALE_BOXES_WGSL.includes("ratios"));
 * ```
 */
export const SCALE_BOXES_WGSL = kernel1dWgsl(
  "n: u32, perImage: u32, images: u32, pad: u32, ratios: array<vec4<f32>, 14>",
  `@group(0) @binding(1) var<storage, read> boxes: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;`,
) + /* wgsl */ `
  if (i >= p.n) { return; }
  let r = p.ratios[min(i / p.perImage, p.images - 1u)];
  out[i] = boxes[i] * vec4<f32>(r.y, r.x, r.y, r.x);
}
`;
