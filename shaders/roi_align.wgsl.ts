/**
 * WGSL of RoIAlign (torchvision's CPU kernel, bit-for-bit the same sequence of f32 operations where WGSL
 * allows) over NHWC features, for one feature map or for up to four FPN levels bound at once with the
 * level of each RoI chosen on the GPU by torchvision's `LevelMapper`.
 *
 * Layout: one invocation per `channels` consecutive output elements (r, ph, pw, c4 …) of
 * `out [R, outH, outW, C]`, channels innermost, so neighbouring invocations read neighbouring channels of
 * the same four feature pixels (vec4 elements when C % 4 == 0: `cv` = C / 4 vectors per pixel, else `cv` =
 * C scalars; `channels` divides `cv`). Every invocation computes its RoI's geometry and sample weights
 * itself, and no workgroup barrier or second pass is needed. On a GPU one element per invocation
 * (`channels` 1) keeps neighbouring lanes on neighbouring addresses. On lavapipe, where every lane's
 * buffer load is a scalar loop anyway, the per-invocation prologue (RoI reads, level mapper, grid and
 * bilinear taps) cost more than the loads at 64 channels: 4 elements per invocation share it
 * (ops/roi_align.ts `ROI_ALIGN_CHANNELS`). Each element's sum is the same sequence of f32 operations
 * either way.
 *
 * The uniform layout, level mapper and per-RoI prologue are shared with the backward kernels
 * (`roi_align_common.wgsl.ts`). Backward: `roi_align_gather.wgsl.ts` (deterministic, the default) and
 * `roi_align_backward.wgsl.ts` (float-atomic scatter).
 * @module
 */
import { MAIN_1D_ARGS } from "./common.wgsl.ts";
import {
  LEVEL_MAPPER_WGSL,
  levelLoadWgsl,
  ROI_WORKGROUP,
  roiAlignParamsWgsl,
  roiPrologueWgsl,
} from "./roi_align_common.wgsl.ts";
import { BILINEAR_TAPS_WGSL, ROI_GRID_WGSL } from "./roi_sampling.wgsl.ts";

export { ROI_WORKGROUP };

/** Static variants of the RoIAlign kernel (each compiles once). */
export interface RoiAlignVariant {
  /** Channels as vec4 (C % 4 == 0) or scalars. */
  vec4: boolean;
  /** Number of feature maps bound (1 to 4). */
  levels: number;
  /** Choose the level of each RoI with the FPN level mapper (else level 0). */
  mapLevels: boolean;
  /** Consecutive output elements (channel vectors or scalars) per invocation; divides `cv`. Default 1. */
  channels?: number;
}

/**
 * The RoIAlign kernel. Bindings: 1 `rois [R, 5]`, 2.. the feature maps, then `out`.
 *
 * @example
 * ```ts
 * import { roiAlignWgsl } from "./roi_align.wgsl.ts";
 * console.log(roiAlignWgsl({ vec4: true, levels: 4, mapLevels: true }).includes("fn mapLevel"));
 * ```
 */
export function roiAlignWgsl({ vec4, levels, mapLevels, channels = 1 }: RoiAlignVariant): string {
  const V = vec4 ? "vec4f" : "f32";
  const J = Array.from({ length: channels }, (_, j) => j);
  const feats = Array.from(
    { length: levels },
    (_, l) => `@group(0) @binding(${l + 2}) var<storage, read> f${l}: array<${V}>;`,
  ).join("\n");
  return /* wgsl */ `
${roiAlignParamsWgsl()}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> rois: array<f32>;
${feats}
@group(0) @binding(${levels + 2}) var<storage, read_write> out: array<${V}>; // from element p.offset
${levelLoadWgsl(levels, V)}

${ROI_GRID_WGSL}
${roiPrologueWgsl({ levels, mapLevels })}
${BILINEAR_TAPS_WGSL}
// torchvision's bilinear_interpolate over the four taps, for element j of the invocation's channels.
fn bilinear(l: u32, base: u32, t: BilinearTaps) -> ${V} {
  if (!t.valid) { return ${V}(0.0); }
  return t.w.x * load(l, base + t.i.x * p.cv) + t.w.y * load(l, base + t.i.y * p.cv) +
    t.w.z * load(l, base + t.i.z * p.cv) + t.w.w * load(l, base + t.i.w * p.cv);
}

@compute @workgroup_size(${ROI_WORKGROUP})
fn main(${MAIN_1D_ARGS}) {
  // Elements [local, local + ${channels}) of this dispatch's output range: one bin, consecutive channels.
  let local = ((wid.y * nwg.x + wid.x) * ${ROI_WORKGROUP}u + lid.x) * ${channels}u;
  if (local >= p.total) { return; }
  let idx = p.offset + local;
  let q = roiBin(idx); // (c, pw, ph, r)
  let s = roiSetup(q.w);
  if (!s.ok) {
${J.map((j) => `    out[local + ${j}u] = ${V}(0.0);`).join("\n")}
    return;
  }
  let g = s.g;
  let base = s.b * s.h * s.w * p.cv + q.x;
${J.map((j) => `  var acc${j} = ${V}(0.0);`).join("\n")}
  for (var iy = 0; iy < g.gridH; iy++) {
    let y = g.startH + f32(q.z) * g.binH + (f32(iy) + 0.5) * g.binH / f32(g.gridH);
    for (var ix = 0; ix < g.gridW; ix++) {
      let x = g.startW + f32(q.y) * g.binW + (f32(ix) + 0.5) * g.binW / f32(g.gridW);
      let t = bilinearTaps(y, x, s.h, s.w);
${J.map((j) => `      acc${j} += bilinear(s.l, base + ${j}u, t);`).join("\n")}
    }
  }
${J.map((j) => `  out[local + ${j}u] = acc${j} / g.count;`).join("\n")}
}
`;
}

/**
 * The FPN level assignment alone (for `roiLevels`), one invocation per RoI, with the same `mapLevel` as the
 * pooling kernel so the two never disagree. Writes `levels[r]` = the 0-based level index of RoI r (−1 for
 * an inverted box), from `rois [R, 5]`.
 *
 * @example
 * ```ts
 * import { roiLevelsWgsl } from "./roi_align.wgsl.ts";
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
