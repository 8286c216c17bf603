/**
 * WGSL of the FPN level assignment alone (torchvision's `LevelMapper`), one invocation per RoI. The pooling
 * itself is the multi-level variant of `roi_align.wgsl.ts`, which evaluates the same `mapLevel` per
 * invocation, so the two can never disagree.
 * @module
 */
import { LEVEL_MAPPER_WGSL, ROI_WORKGROUP } from "./roi_align.wgsl.ts";

/**
 * Writes `levels[r]` = the 0-based level index of RoI r (−1 for an inverted box), from `rois [R, 5]`.
 *
 * @example
 * ```ts
 * import { roiLevelsWgsl } from "./multiscale_roi_align.wgsl.ts";
 * console.log(roiLevelsWgsl().includes("mapLevel"));
 * ```
 */
export function roiLevelsWgsl(): string {
  return /* wgsl */ `
struct Params { rois: u32, kMin: f32, kMax: f32, canonicalScale: f32, canonicalLevel: f32, eps: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> rois: array<f32>;
@group(0) @binding(2) var<storage, read_write> levels: array<i32>;
${LEVEL_MAPPER_WGSL}

@compute @workgroup_size(${ROI_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(num_workgroups) nwg: vec3u) {
  let r = (wid.y * nwg.x + wid.x) * ${ROI_WORKGROUP}u + lid.x;
  if (r >= p.rois) { return; }
  levels[r] = mapLevel(rois[r * 5u + 1u], rois[r * 5u + 2u], rois[r * 5u + 3u], rois[r * 5u + 4u]);
}
`;
}
