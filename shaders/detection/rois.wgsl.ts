/**
 * WGSL that writes RoI rows `(batchIndex, x1, y1, x2, y2)` from per-image box slots (dispatched by
 * `ops/detection/rois.ts`).
 * @module
 */
import { kernel1dWgsl } from "../common.wgsl.ts";

/**
 * RoI rows `(batchIndex, x1, y1, x2, y2)` from per-image box lists of `perImage` rows each.
 *
 * @example
 * ```ts
 * import { BOXES_TO_ROIS_WGSL } from "./rois.wgsl.ts";
 * console.log(BOXES_TO_ROIS_WGSL.includes("perImage"));
 * ```
 */
export const BOXES_TO_ROIS_WGSL = kernel1dWgsl(
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
 * Fills kept slots in one pass: `boxes[i] = src[keep[i]]` (zeros where keep is −1 or out of range),
 * `rois[i] = (i / perImage, boxes[i])`, and with `labels` `labels[i] = srcLabels[keep[i]]` (0 where
 * missing), else `valid[i] = keep[i] >= 0`: gatherRows + boxesToRois + (gatherRows | indexValid) fused.
 *
 * @example
 * ```ts
 * import { gatherSlotsWgsl } from "./rois.wgsl.ts";
 * console.log(gatherSlotsWgsl(true).includes("srcLabels"));
 * ```
 */
export function gatherSlotsWgsl(labels: boolean): string {
  return kernel1dWgsl(
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
