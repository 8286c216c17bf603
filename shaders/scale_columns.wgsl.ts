/**
 * WGSL of `out[r, c] = x[r, c] · scale[c]` (per-output-channel scaling of packed weights and gradients).
 * @module
 */
import { LINEAR_INDEX_WGSL, MAIN_1D_ARGS, WORKGROUP_1D } from "./common.wgsl.ts";

/**
 * The column-scaling kernel; `x` and `out` may be the same buffer (in place).
 *
 * @example
 * ```ts
 * import { SCALE_COLUMNS_WGSL } from "./scale_columns.wgsl.ts";
 * console.log(SCALE_COLUMNS_WGSL.includes("scale[i % p.cols]"));
 * ```
 */
export const SCALE_COLUMNS_WGSL = /* wgsl */ `
struct Params { n: u32, cols: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> scale: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
${LINEAR_INDEX_WGSL}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(${MAIN_1D_ARGS}) {
  let i = linearIndex(wid, lid, nwg);
  if (i < p.n) { out[i] = x[i] * scale[i % p.cols]; }
}
`;

/**
 * In-place variant: `x[r, c] ·= scale[c]` (one read-write binding; WebGPU forbids binding one buffer twice
 * when one binding is writable).
 *
 * @example
 * ```ts
 * import { SCALE_COLUMNS_IN_PLACE_WGSL } from "./scale_columns.wgsl.ts";
 * console.log(SCALE_COLUMNS_IN_PLACE_WGSL.includes("*="));
 * ```
 */
export const SCALE_COLUMNS_IN_PLACE_WGSL = /* wgsl */ `
struct Params { n: u32, cols: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> scale: array<f32>;
${LINEAR_INDEX_WGSL}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(${MAIN_1D_ARGS}) {
  let i = linearIndex(wid, lid, nwg);
  if (i < p.n) { x[i] *= scale[i % p.cols]; }
}
`;
