/**
 * WGSL of nearest-neighbour resizing of NHWC tensors to an explicit size. Source index per axis is
 * torch's `nearest_idx`: `min(floor(f32(dst) * scale), in − 1)` with `scale = f32(in / out)` computed on
 * the CPU (WGSL division is not correctly rounded; the f32 multiply is), so odd sizes match torch exactly.
 * One thread per output element, or per vec4 of channels when C % 4 == 0.
 * @module
 */
import { LINEAR_INDEX_WGSL, MAIN_1D_ARGS, NHWC_COORDS_WGSL, WORKGROUP_1D } from "./common.wgsl.ts";

/**
 * The nearest-resize kernel; `vec4` selects vec4 channel loads.
 *
 * @example
 * ```ts
 * import { upsampleNearestWgsl } from "./upsample.wgsl.ts";
 * console.log(upsampleNearestWgsl(false).includes("floor"));
 * ```
 */
export function upsampleNearestWgsl(vec4: boolean): string {
  const t = vec4 ? "vec4<f32>" : "f32";
  return /* wgsl */ `
struct Params { total: u32, h: u32, w: u32, c: u32, ho: u32, wo: u32, scale_h: f32, scale_w: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<${t}>;
@group(0) @binding(2) var<storage, read_write> out: array<${t}>;
${LINEAR_INDEX_WGSL}
${NHWC_COORDS_WGSL}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(${MAIN_1D_ARGS}) {
  let i = linearIndex(wid, lid, nwg);
  if (i >= p.total) { return; }
  let q = nhwcCoords(i, p.ho, p.wo, p.c);
  let n = q.x;
  let oy = q.y;
  let ox = q.z;
  let c = q.w;
  let sy = min(u32(floor(f32(oy) * p.scale_h)), p.h - 1u);
  let sx = min(u32(floor(f32(ox) * p.scale_w)), p.w - 1u);
  out[i] = x[((n * p.h + sy) * p.w + sx) * p.c + c];
}
`;
}
