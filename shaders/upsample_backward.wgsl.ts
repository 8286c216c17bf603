/**
 * WGSL of the nearest-resize backward pass over NHWC tensors as a deterministic gather: one invocation per
 * input element (or vec4 of channels) sums, in (oy, ox) order, the output gradients that copied it. The
 * forward's source index `src(o) = min(floor(f32(o) · scale), in − 1)` is non-decreasing in o, so the
 * outputs of input row y form one run `[first(y), first(y + 1))`; `first` starts from the estimate
 * `y / scale` and steps to the exact boundary with the forward's own f32 formula, so the two agree.
 * @module
 */
import { LINEAR_INDEX_WGSL, MAIN_1D_ARGS, NHWC_COORDS_WGSL, WORKGROUP_1D } from "./common.wgsl.ts";

/**
 * The nearest-resize gather kernel; `vec4` selects vec4 channel loads.
 *
 * @example
 * ```ts
 * import { upsampleNearestBackwardWgsl } from "./upsample_backward.wgsl.ts";
 * console.log(upsampleNearestBackwardWgsl(true).includes("fn firstOutput"));
 * ```
 */
export function upsampleNearestBackwardWgsl(vec4: boolean): string {
  const t = vec4 ? "vec4<f32>" : "f32";
  return /* wgsl */ `
struct Params { total: u32, h: u32, w: u32, c: u32, ho: u32, wo: u32, scale_h: f32, scale_w: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> gradOut: array<${t}>;
@group(0) @binding(2) var<storage, read_write> gradX: array<${t}>;
${LINEAR_INDEX_WGSL}
${NHWC_COORDS_WGSL}
fn src(o: u32, scale: f32, size: u32) -> u32 {
  return min(u32(floor(f32(o) * scale)), size - 1u);
}
// The first output o (≤ outSize) with src(o) ≥ v.
fn firstOutput(v: u32, scale: f32, size: u32, outSize: u32) -> u32 {
  var o = min(u32(max(floor(f32(v) / scale), 0.0)), outSize);
  loop {
    if (o == 0u || src(o - 1u, scale, size) < v) { break; }
    o--;
  }
  loop {
    if (o >= outSize || src(o, scale, size) >= v) { break; }
    o++;
  }
  return o;
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
  let oy0 = firstOutput(y, p.scale_h, p.h, p.ho);
  let oy1 = select(firstOutput(y + 1u, p.scale_h, p.h, p.ho), p.ho, y + 1u == p.h);
  let ox0 = firstOutput(xx, p.scale_w, p.w, p.wo);
  let ox1 = select(firstOutput(xx + 1u, p.scale_w, p.w, p.wo), p.wo, xx + 1u == p.w);
  var acc = ${t}(0.0);
  for (var oy = oy0; oy < oy1; oy++) {
    let row = (n * p.ho + oy) * p.wo;
    for (var ox = ox0; ox < ox1; ox++) {
      acc += gradOut[(row + ox) * p.c + c];
    }
  }
  gradX[i] = acc;
}
`;
}
