/**
 * WGSL of the elementwise training helpers: the ReLU gradient mask and in-place accumulation. One element
 * (or one vec4 of four when the element count is a multiple of 4) per invocation.
 * @module
 */
import { LINEAR_INDEX_WGSL, MAIN_1D_ARGS, WORKGROUP_1D } from "./common.wgsl.ts";

/**
 * `gradIn[i] = gradOut[i] · (out[i] > 0)` (ReLU backward from the forward's output).
 *
 * @example
 * ```ts
 * import { reluBackwardWgsl } from "./elementwise_backward.wgsl.ts";
 * console.log(reluBackwardWgsl(true).includes("select"));
 * ```
 */
export function reluBackwardWgsl(vec4: boolean): string {
  const t = vec4 ? "vec4<f32>" : "f32";
  return /* wgsl */ `
struct Params { n: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> out: array<${t}>;
@group(0) @binding(2) var<storage, read> gradOut: array<${t}>;
@group(0) @binding(3) var<storage, read_write> gradIn: array<${t}>;
${LINEAR_INDEX_WGSL}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(${MAIN_1D_ARGS}) {
  let i = linearIndex(wid, lid, nwg);
  if (i < p.n) { gradIn[i] = select(${t}(0.0), gradOut[i], out[i] > ${t}(0.0)); }
}
`;
}

/**
 * `acc[i] += x[i]` in place (`target` is a reserved word in WGSL).
 *
 * @example
 * ```ts
 * import { addIntoWgsl } from "./elementwise_backward.wgsl.ts";
 * console.log(addIntoWgsl(false).includes("+="));
 * ```
 */
export function addIntoWgsl(vec4: boolean): string {
  const t = vec4 ? "vec4<f32>" : "f32";
  return /* wgsl */ `
struct Params { n: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> acc: array<${t}>;
@group(0) @binding(2) var<storage, read> x: array<${t}>;
${LINEAR_INDEX_WGSL}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(${MAIN_1D_ARGS}) {
  let i = linearIndex(wid, lid, nwg);
  if (i < p.n) { acc[i] += x[i]; }
}
`;
}
