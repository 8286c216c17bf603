/**
 * WGSL of 2-D max pooling over NHWC tensors. One thread per output element (or per vec4 of four channels
 * when C is a multiple of 4); the window is scanned in (ky, kx) order and positions in the zero-size
 * "padding" are skipped, which is torch's -inf padding. The first valid element seeds the maximum, so a
 * window of real -inf values yields -inf. Kernel size, stride and padding are runtime params.
 * @module
 */
import { LINEAR_INDEX_WGSL, MAIN_1D_ARGS, WORKGROUP_1D } from "./common.wgsl.ts";

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
  return /* wgsl */ `
struct Params {
  total: u32, h: u32, w: u32, c: u32,      // c: channels in units of ${t}
  ho: u32, wo: u32, kh: u32, kw: u32,
  sh: u32, sw: u32, ph: u32, pw: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<${t}>;
@group(0) @binding(2) var<storage, read_write> out: array<${t}>;
${LINEAR_INDEX_WGSL}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(${MAIN_1D_ARGS}) {
  let i = linearIndex(wid, lid, nwg);
  if (i >= p.total) { return; }
  let c = i % p.c;
  var t = i / p.c;
  let ox = t % p.wo;
  t = t / p.wo;
  let oy = t % p.ho;
  let n = t / p.ho;
  let y0 = i32(oy * p.sh) - i32(p.ph);
  let x0 = i32(ox * p.sw) - i32(p.pw);
  var m = ${t}(0);
  var seeded = false;
  for (var ky = 0u; ky < p.kh; ky++) {
    let y = y0 + i32(ky);
    if (y < 0 || y >= i32(p.h)) { continue; }
    let row = (n * p.h + u32(y)) * p.w;
    for (var kx = 0u; kx < p.kw; kx++) {
      let xx = x0 + i32(kx);
      if (xx < 0 || xx >= i32(p.w)) { continue; }
      let v = x[(row + u32(xx)) * p.c + c];
      if (seeded) { m = max(m, v); } else { m = v; seeded = true; }
    }
  }
  out[i] = m;
}
`;
}
