/**
 * WGSL of the RoIAlign backward pass (torchvision 0.14's `roi_align_backward_kernel`): every sample of
 * every bin adds `gradOut[r, ph, pw, c] / count · w_k` to the four bilinear taps it read in the forward,
 * with the forward's boundary rules (no contribution outside [-1, H] × [-1, W], clamp into the map).
 *
 * Layout: the forward's, one invocation per element (r, ph, pw, c-unit) of `gradOut [R, outH, outW, C]`
 * (vec4 of channels when C % 4 == 0), the level of each RoI mapped on the GPU as in the forward.
 *
 * Choice: scatter with a float atomic add, in one of two forms (a variant of the source):
 * - `f32`: the gradient maps are bound as `array<atomic<f32>>` and `+=` is one `atomicAdd` (wgpu's native
 *   feature `wgpu-shader-float32-atomic`, requested by name in ops/gpu.ts; lavapipe has it);
 * - `cas`: standard WGSL has atomics only for i32/u32, so the maps are bound as `array<atomic<u32>>` and
 *   `+=` is a compare-exchange loop on bit casts (any adapter).
 * Neighbouring invocations hit distinct channels, so contention is limited to taps shared by overlapping
 * RoIs / adjacent samples. With either form the order of the float additions varies between runs as soon
 * as lavapipe's threads (or a GPU's cores) run workgroups that touch the same pixel at once (results agree
 * to ~1e-7 relative, not bit for bit). The deterministic path is the gather of `roi_align_gather.wgsl.ts`.
 *
 * The params struct, the RoI prologue and the occupied-row guard are the forward's
 * (`roi_align_common.wgsl.ts`).
 * @module
 */
import {
  OCCUPIED_FIELDS_WGSL,
  OCCUPIED_ROWS_WGSL,
  ROI_WORKGROUP,
  roiAlignParamsWgsl,
  roiPrologueWgsl,
} from "./roi_align_common.wgsl.ts";
import { BILINEAR_TAPS_WGSL, ROI_GRID_WGSL } from "./roi_sampling.wgsl.ts";

/** Static variants of the backward kernel (each compiles once). */
export interface RoiAlignBackwardVariant {
  /** gradOut channels as vec4 (C % 4 == 0) or scalars. */
  vec4: boolean;
  /** Number of gradient maps bound (1 to 4). */
  levels: number;
  /** Choose the level of each RoI with the FPN level mapper (else level 0). */
  mapLevels: boolean;
  /** `f32`: native `atomicAdd` on `atomic<f32>` (needs wgpu-shader-float32-atomic); `cas`: u32 CAS loop. */
  atomics: "f32" | "cas";
}

function atomicAddWgsl(levels: number, atomics: "f32" | "cas"): string {
  const fns = [];
  for (let l = 0; l < levels; l++) {
    if (atomics === "f32") {
      fns.push(`fn add${l}(i: u32, v: f32) { atomicAdd(&g${l}[i], v); }`);
      continue;
    }
    fns.push(`fn add${l}(i: u32, v: f32) {
  var old = atomicLoad(&g${l}[i]);
  loop {
    let r = atomicCompareExchangeWeak(&g${l}[i], old, bitcast<u32>(bitcast<f32>(old) + v));
    if (r.exchanged) { break; }
    old = r.old_value;
  }
}`);
  }
  const branches = [];
  for (let l = 0; l < levels - 1; l++) branches.push(`  if (l == ${l}u) { add${l}(i, v); return; }`);
  return `${fns.join("\n")}
fn addAt(l: u32, i: u32, v: f32) {
  if (v == 0.0) { return; }
${branches.join("\n")}
  add${levels - 1}(i, v);
}`;
}

/**
 * The RoIAlign backward kernel. Bindings: 1 `rois [R, 5]`, 2 `counts` (u32, {@link OCCUPIED_ROWS_WGSL}),
 * 3 `gradOut`, 4.. the gradient maps (NHWC f32, accumulated into).
 *
 * @example
 * ```ts
 * import { roiAlignBackwardWgsl } from "./roi_align_backward.wgsl.ts";
 * const src = roiAlignBackwardWgsl({ vec4: true, levels: 4, mapLevels: false, atomics: "cas" });
 * console.log(src.includes("atomicCompareExchangeWeak"));
 * ```
 */
export function roiAlignBackwardWgsl({ vec4, levels, mapLevels, atomics }: RoiAlignBackwardVariant): string {
  const V = vec4 ? "vec4f" : "f32";
  const lanes = vec4 ? 4 : 1;
  const grads = Array.from(
    { length: levels },
    (_, l) =>
      `@group(0) @binding(${l + 4}) var<storage, read_write> g${l}: array<atomic<${
        atomics === "f32" ? "f32" : "u32"
      }>>;`,
  ).join("\n");
  const addTap = vec4
    ? `fn addTap(l: u32, i: u32, v: vec4f) {
  addAt(l, i, v.x); addAt(l, i + 1u, v.y); addAt(l, i + 2u, v.z); addAt(l, i + 3u, v.w);
}`
    : `fn addTap(l: u32, i: u32, v: f32) { addAt(l, i, v); }`;
  return /* wgsl */ `
${roiAlignParamsWgsl(OCCUPIED_FIELDS_WGSL)}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> rois: array<f32>;
@group(0) @binding(2) var<storage, read> counts: array<u32>;
@group(0) @binding(3) var<storage, read> gradOut: array<${V}>;
${grads}
${atomicAddWgsl(levels, atomics)}
${addTap}

${ROI_GRID_WGSL}
${BILINEAR_TAPS_WGSL}
${roiPrologueWgsl({ levels, mapLevels })}
${OCCUPIED_ROWS_WGSL}
// torchvision's bilinear_interpolate_gradient, scattering g · w_k into the four taps.
fn scatter(l: u32, base: u32, cs: u32, y: f32, x: f32, h: u32, w: u32, g: ${V}) {
  let t = bilinearTaps(y, x, h, w);
  if (!t.valid) { return; }
  addTap(l, base + t.i.x * cs, t.w.x * g);
  addTap(l, base + t.i.y * cs, t.w.y * g);
  addTap(l, base + t.i.z * cs, t.w.z * g);
  addTap(l, base + t.i.w * cs, t.w.w * g);
}

@compute @workgroup_size(${ROI_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(num_workgroups) nwg: vec3u) {
  let idx = (wid.y * nwg.x + wid.x) * ${ROI_WORKGROUP}u + lid.x;
  if (idx >= p.total) { return; }
  let q = roiBin(idx); // (c, pw, ph, r)
  if (!rowInUse(q.w)) { return; }
  let s = roiSetup(q.w);
  if (!s.ok) { return; }
  let grid = s.g;
  let cs = p.cv * ${lanes}u;                       // channels per pixel, in scalars
  let base = s.b * s.h * s.w * cs + q.x * ${lanes}u;
  let g = gradOut[idx] / grid.count;
  for (var iy = 0; iy < grid.gridH; iy++) {
    let y = grid.startH + f32(q.z) * grid.binH + (f32(iy) + 0.5) * grid.binH / f32(grid.gridH);
    for (var ix = 0; ix < grid.gridW; ix++) {
      let x = grid.startW + f32(q.y) * grid.binW + (f32(ix) + 0.5) * grid.binW / f32(grid.gridW);
      scatter(s.l, base, cs, y, x, s.h, s.w, g);
    }
  }
}
`;
}
