/**
 * WGSL of the elementwise ops: binary (add, mul), unary (relu), fill and copy. Each thread handles one
 * element, or one vec4 of four when the element count is a multiple of 4 (vector loads for real GPUs).
 * @module
 */
import { LINEAR_INDEX_WGSL, MAIN_1D_ARGS, WORKGROUP_1D } from "./common.wgsl.ts";

/** WGSL scalar types of the supported dtypes. */
export type WgslScalar = "f32" | "i32" | "u32";

function elementType(scalar: WgslScalar, vec4: boolean): string {
  return vec4 ? `vec4<${scalar}>` : scalar;
}

/**
 * A binary kernel `out[i] = a[i] OP b[i]` over `p.n` elements (vec4 elements when `vec4`).
 *
 * @example
 * ```ts
 * import { binaryWgsl } from "./elementwise.wgsl.ts";
 * console.log(binaryWgsl("+", "f32", true).includes("vec4<f32>"));
 * ```
 */
export function binaryWgsl(operator: "+" | "*", scalar: WgslScalar, vec4: boolean): string {
  const t = elementType(scalar, vec4);
  return /* wgsl */ `
struct Params { n: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<${t}>;
@group(0) @binding(2) var<storage, read> b: array<${t}>;
@group(0) @binding(3) var<storage, read_write> out: array<${t}>;
${LINEAR_INDEX_WGSL}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(${MAIN_1D_ARGS}) {
  let i = linearIndex(wid, lid, nwg);
  if (i < p.n) { out[i] = a[i] ${operator} b[i]; }
}
`;
}

/**
 * ReLU `out[i] = max(x[i], 0)`.
 *
 * @example
 * ```ts
 * import { reluWgsl } from "./elementwise.wgsl.ts";
 * console.log(reluWgsl("f32", false).includes("max("));
 * ```
 */
export function reluWgsl(scalar: WgslScalar, vec4: boolean): string {
  const t = elementType(scalar, vec4);
  return /* wgsl */ `
struct Params { n: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<${t}>;
@group(0) @binding(2) var<storage, read_write> out: array<${t}>;
${LINEAR_INDEX_WGSL}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(${MAIN_1D_ARGS}) {
  let i = linearIndex(wid, lid, nwg);
  if (i < p.n) { out[i] = max(x[i], ${t}(0)); }
}
`;
}

/**
 * Fill 32-bit words with the bit pattern `p.bits` (any 32-bit dtype: the wrapper passes the value's bits).
 *
 * @example
 * ```ts
 * import { FILL_WGSL } from "./elementwise.wgsl.ts";
 * console.log(FILL_WGSL.includes("p.bits"));
 * ```
 */
export const FILL_WGSL = /* wgsl */ `
struct Params { n: u32, bits: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
${LINEAR_INDEX_WGSL}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(${MAIN_1D_ARGS}) {
  let i = linearIndex(wid, lid, nwg);
  if (i < p.n) { out[i] = p.bits; }
}
`;

/**
 * Copy `p.n` 32-bit words (or vec4 words) from `src` to `out`.
 *
 * @example
 * ```ts
 * import { copyWgsl } from "./elementwise.wgsl.ts";
 * console.log(copyWgsl(true).includes("vec4<u32>"));
 * ```
 */
export function copyWgsl(vec4: boolean): string {
  const t = elementType("u32", vec4);
  return /* wgsl */ `
struct Params { n: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<${t}>;
@group(0) @binding(2) var<storage, read_write> out: array<${t}>;
${LINEAR_INDEX_WGSL}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(${MAIN_1D_ARGS}) {
  let i = linearIndex(wid, lid, nwg);
  if (i < p.n) { out[i] = src[i]; }
}
`;
}
