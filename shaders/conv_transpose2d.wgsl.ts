/**
 * The output scatter of the 2×2, stride-2 transposed convolution, plugged into the implicit-GEMM kernel of
 * shaders/conv2d.wgsl.ts (which computes the GEMM; see ops/conv_transpose2d.ts).
 *
 * GEMM rows are input pixels m = (n, y, x) of the h×w input; columns c = (dy, dx, co) with co fastest
 * (4·Cout columns). Column c of row m lands at output pixel (2y + dy, 2x + dx), channel co, of the NHWC
 * `[N, 2h, 2w, Cout]` output. With Cout % 4 == 0 four consecutive columns stay in one pixel (vec4 store).
 * @module
 */

/**
 * `fn outIndex(m, c)` for the transposed conv (reads the kernel's params `p.h`, `p.w`, `p.cout`).
 *
 * @example
 * ```ts
 * import { TRANSPOSE_2X2_STORE } from "./conv_transpose2d.wgsl.ts";
 * console.log(TRANSPOSE_2X2_STORE.name); // "transpose2x2"
 * ```
 */
export const TRANSPOSE_2X2_STORE: { name: string; wgsl: string } = {
  name: "transpose2x2",
  wgsl: /* wgsl */ `
fn outIndex(m: u32, c: u32) -> u32 {
  let hw = p.h * p.w;
  let n = m / hw;
  let r = m - n * hw;
  let y = r / p.w;
  let x = r - y * p.w;
  let q = c / p.cout;
  let co = c - q * p.cout;
  let dy = q >> 1u;
  let dx = q & 1u;
  return ((n * 2u * p.h + 2u * y + dy) * 2u * p.w + 2u * x + dx) * p.cout + co;
}`,
};
