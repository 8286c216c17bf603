/**
 * WGSL snippets shared by many shaders. Shader sources import nothing; op wrappers concatenate these.
 * @module
 */

/** Threads per workgroup of the 1-D elementwise kernels. */
export const WORKGROUP_1D = 256;

/**
 * The linear invocation index of a 1-D kernel dispatched on a folded 2-D grid (see `ops/kernel.ts`).
 * Declares `fn linearIndex(wid, lid, nwg) -> u32`.
 *
 * @example
 * ```ts
 * import { LINEAR_INDEX_WGSL } from "./common.wgsl.ts";
 * console.log(LINEAR_INDEX_WGSL.includes("fn linearIndex"));
 * ```
 */
export const LINEAR_INDEX_WGSL = /* wgsl */ `
fn linearIndex(wid: vec3u, lid: vec3u, nwg: vec3u) -> u32 {
  return (wid.y * nwg.x + wid.x) * ${WORKGROUP_1D}u + lid.x;
}
`;

/** The builtins every 1-D kernel's `main` takes. */
export const MAIN_1D_ARGS =
  "@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(num_workgroups) nwg: vec3u";

/**
 * `sigmoid1(x)`, the logistic function `1 / (1 + exp(−x))` in f32 (torch's `sigmoid` for moderate inputs).
 *
 * @example
 * ```ts
 * import { SIGMOID1_WGSL } from "./common.wgsl.ts";
 * console.log(SIGMOID1_WGSL.includes("fn sigmoid1"));
 * ```
 */
export const SIGMOID1_WGSL = "fn sigmoid1(x: f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }";

/**
 * The head of a 1-D kernel with one thread per element: `struct Params { params }` at binding 0, the
 * storage `bindings`, any `helpers` (WGSL functions), and `main` up to `let <index> = linearIndex(…);`
 * (`index` default `i`). The caller appends the body and the closing `}`.
 *
 * @example
 * ```ts
 * import { kernel1dWgsl } from "./common.wgsl.ts";
 * const wgsl = kernel1dWgsl("n: u32", "@group(0) @binding(1) var<storage, read_write> x: array<f32>;") +
 *   "  if (i < p.n) { x[i] = 0.0; }\n}\n";
 * console.log(wgsl.includes("let i = linearIndex(wid, lid, nwg);"));
 * ```
 */
export function kernel1dWgsl(params: string, bindings: string, helpers = "", index = "i"): string {
  return /* wgsl */ `
struct Params { ${params} }
@group(0) @binding(0) var<uniform> p: Params;
${bindings}
${LINEAR_INDEX_WGSL}
${helpers}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(${MAIN_1D_ARGS}) {
  let ${index} = linearIndex(wid, lid, nwg);`;
}

/**
 * `fn nhwcCoords(i, h, w, c) -> vec4u`: the (n, y, x, channel) of element `i` of an NHWC `[N, h, w, c]`
 * tensor (channels fastest), the index decoding of the one-thread-per-element pool and upsample kernels.
 *
 * @example
 * ```ts
 * import { NHWC_COORDS_WGSL } from "./common.wgsl.ts";
 * console.log(NHWC_COORDS_WGSL.includes("fn nhwcCoords"));
 * ```
 */
export const NHWC_COORDS_WGSL = /* wgsl */ `
fn nhwcCoords(i: u32, h: u32, w: u32, c: u32) -> vec4u {
  let pixel = i / c;
  let row = pixel / w;
  return vec4u(row / h, row % h, pixel % w, i % c);
}
`;
