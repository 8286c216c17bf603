/**
 * WGSL of 2-D max pooling over NHWC tensors. One thread per output element (or per vec4 of four channels
 * when C is a multiple of 4); the window is scanned in (ky, kx) order and positions in the zero-size
 * "padding" are skipped, which is torch's -inf padding. The first valid element seeds the maximum, so a
 * window of real -inf values yields -inf. Kernel size, stride and padding are runtime params.
 * @module
 */
import { LINEAR_INDEX_WGSL, MAIN_1D_ARGS, NHWC_COORDS_WGSL, WORKGROUP_1D } from "./common.wgsl.ts";

/**
 * The params block (binding 0) of the max-pool kernels, forward and backward (shaders/pool_backward.wgsl.ts).
 *
 * @example
 * ```ts
 * import { MAX_POOL_PARAMS_WGSL } from "./pool.wgsl.ts";
 * console.log(MAX_POOL_PARAMS_WGSL.includes("var<uniform> p: Params"));
 * ```
 */
export const MAX_POOL_PARAMS_WGSL = `
struct Params {
  total: u32, h: u32, w: u32, c: u32,      // c: channels in units of the element type
  ho: u32, wo: u32, kh: u32, kw: u32,
  sh: u32, sw: u32, ph: u32, pw: u32,
}
@group(0) @binding(0) var<uniform> p: Params;`;

/**
 * The window scan of one output element, the one home of max pooling's rule (forward and the backward's
 * argmax pass): `main`'s body up to the store, leaving the maximum in `m` (element type `t`) and, with
 * `argmaxType`, the window-local index `ky·kw + kx` of its first occurrence in `best`. The first valid
 * element seeds `m`; positions in the padding are skipped. Needs `x`, `linearIndex` and `nhwcCoords`.
 *
 * @example
 * ```ts
 * import { maxPoolWindowWgsl } from "./pool.wgsl.ts";
 * console.log(maxPoolWindowWgsl("f32", "u32").includes("best = select(best, k, better);"));
 * ```
 */
export function maxPoolWindowWgsl(t: string, argmaxType?: string): string {
  const u = argmaxType;
  const update = u
    ? `let k = ${u}(ky * p.kw + kx);
      if (seeded) {
        let better = v > m;
        m = select(m, v, better);
        best = select(best, k, better);
      } else { m = v; best = k; seeded = true; }`
    : `if (seeded) { m = max(m, v); } else { m = v; seeded = true; }`;
  return `  let i = linearIndex(wid, lid, nwg);
  if (i >= p.total) { return; }
  let q = nhwcCoords(i, p.ho, p.wo, p.c);
  let n = q.x;
  let oy = q.y;
  let ox = q.z;
  let c = q.w;
  let y0 = i32(oy * p.sh) - i32(p.ph);
  let x0 = i32(ox * p.sw) - i32(p.pw);
  var m = ${t}(0);${u ? `\n  var best = ${u}(0u);` : ""}
  var seeded = false;
  for (var ky = 0u; ky < p.kh; ky++) {
    let y = y0 + i32(ky);
    if (y < 0 || y >= i32(p.h)) { continue; }
    let row = (n * p.h + u32(y)) * p.w;
    for (var kx = 0u; kx < p.kw; kx++) {
      let xx = x0 + i32(kx);
      if (xx < 0 || xx >= i32(p.w)) { continue; }
      let v = x[(row + u32(xx)) * p.c + c];
      ${update}
    }
  }`;
}

/**
 * The max-pool kernel; `vec4` selects vec4 channel loads (C % 4 == 0).
 *
 * @example
 * ```ts
 * import { maxPool2dWgsl } from "./pool.wgsl.ts";
 * console.log(maxPool2dWgsl(true).includes("vec4<f32>"));
 * ```
 */
export function maxPool2dWgsl(vec4: boolean): string {
  const t = vec4 ? "vec4<f32>" : "f32";
  return /* wgsl */ `${MAX_POOL_PARAMS_WGSL}
@group(0) @binding(1) var<storage, read> x: array<${t}>;
@group(0) @binding(2) var<storage, read_write> out: array<${t}>;
${LINEAR_INDEX_WGSL}
${NHWC_COORDS_WGSL}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(${MAIN_1D_ARGS}) {
${maxPoolWindowWgsl(t)}
  out[i] = m;
}
`;
}
