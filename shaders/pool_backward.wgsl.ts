/**
 * WGSL of the max-pool backward pass over NHWC tensors, as two deterministic passes (no atomics):
 *
 * 1. `argmax`: one invocation per output element records the window-local index `ky·kw + kx` of the FIRST
 *    maximal element in (ky, kx) scan order (strict `>`), which is what torch's CPU kernel records; padded
 *    positions are skipped.
 * 2. `gather`: one invocation per input element sums, in (oy, ox) order, `gradOut` of every output whose
 *    window contains it and whose recorded argmax is it. The candidate outputs of input row y are
 *    `oy ∈ [ceil((y + ph − kh + 1) / sh), floor((y + ph) / sh)]` (same for columns).
 *
 * Both handle one scalar or one vec4 of channels (C % 4 == 0) per invocation; comparisons and selects are
 * per component, so the vec4 path keeps per-channel argmax semantics.
 * @module
 */
import { LINEAR_INDEX_WGSL, MAIN_1D_ARGS, NHWC_COORDS_WGSL, WORKGROUP_1D } from "./common.wgsl.ts";
import { MAX_POOL_PARAMS_WGSL as PARAMS, maxPoolWindowWgsl } from "./pool.wgsl.ts";

/**
 * Pass 1: `idx[n, oy, ox, c]` = window-local index of the first maximum.
 *
 * @example
 * ```ts
 * import { maxPool2dArgmaxWgsl } from "./pool_backward.wgsl.ts";
 * console.log(maxPool2dArgmaxWgsl(true).includes("vec4<u32>"));
 * ```
 */
export function maxPool2dArgmaxWgsl(vec4: boolean): string {
  const t = vec4 ? "vec4<f32>" : "f32";
  const u = vec4 ? "vec4<u32>" : "u32";
  return /* wgsl */ `${PARAMS}
@group(0) @binding(1) var<storage, read> x: array<${t}>;
@group(0) @binding(2) var<storage, read_write> idx: array<${u}>;
${LINEAR_INDEX_WGSL}
${NHWC_COORDS_WGSL}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(${MAIN_1D_ARGS}) {
${maxPoolWindowWgsl(t, u)}
  idx[i] = best;
}
`;
}

/**
 * Pass 2: `gradX[n, y, x, c]` = Σ gradOut over the outputs whose argmax is (y, x).
 *
 * @example
 * ```ts
 * import { maxPool2dGatherWgsl } from "./pool_backward.wgsl.ts";
 * console.log(maxPool2dGatherWgsl(false).includes("gradOut"));
 * ```
 */
export function maxPool2dGatherWgsl(vec4: boolean): string {
  const t = vec4 ? "vec4<f32>" : "f32";
  const u = vec4 ? "vec4<u32>" : "u32";
  return /* wgsl */ `${PARAMS}
@group(0) @binding(1) var<storage, read> gradOut: array<${t}>;
@group(0) @binding(2) var<storage, read> idx: array<${u}>;
@group(0) @binding(3) var<storage, read_write> gradX: array<${t}>;
${LINEAR_INDEX_WGSL}
${NHWC_COORDS_WGSL}
// First output index o along an axis whose window [o·s − pad, o·s − pad + k) contains position v.
fn firstWindow(v: u32, k: u32, s: u32, pad: u32) -> u32 {
  let lo = i32(v + pad) - i32(k) + 1;
  if (lo <= 0) { return 0u; }
  return (u32(lo) + s - 1u) / s;
}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(${MAIN_1D_ARGS}) {
  let i = linearIndex(wid, lid, nwg);
  if (i >= p.total) { return; }
  let q = nhwcCoords(i, p.h, p.w, p.c);
  let n = q.x;
  let y = q.y;
  let xx = q.z;
  let c = q.w;
  let oy1 = min((y + p.ph) / p.sh, p.ho - 1u);
  let ox1 = min((xx + p.pw) / p.sw, p.wo - 1u);
  var acc = ${t}(0.0);
  for (var oy = firstWindow(y, p.kh, p.sh, p.ph); oy <= oy1; oy++) {
    let ky = y + p.ph - oy * p.sh;
    for (var ox = firstWindow(xx, p.kw, p.sw, p.pw); ox <= ox1; ox++) {
      let kx = xx + p.pw - ox * p.sw;
      let o = ((n * p.ho + oy) * p.wo + ox) * p.c + c;
      acc += select(${t}(0.0), gradOut[o], idx[o] == ${u}(ky * p.kw + kx));
    }
  }
  gradX[i] = acc;
}
`;
}
