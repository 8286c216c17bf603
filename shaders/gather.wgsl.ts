/**
 * WGSL of the gather and row-copy kernels. Both move 32-bit words, so one kernel serves f32, i32 and u32.
 * @module
 */
import { LINEAR_INDEX_WGSL, MAIN_1D_ARGS, WORKGROUP_1D } from "./common.wgsl.ts";

/**
 * `out[m, d] = x[src(m), d]` with `src(m) = idx[m] + (m / p.idxGroup) · p.srcGroup` (per-image offsets),
 * and zeros where `idx[m] < 0` or the source row is out of range.
 *
 * @example
 * ```ts
 * import { GATHER_ROWS_WGSL } from "./gather.wgsl.ts";
 * console.log(GATHER_ROWS_WGSL.includes("idxGroup"));
 * ```
 */
export const GATHER_ROWS_WGSL = /* wgsl */ `
struct Params { total: u32, width: u32, srcRows: u32, idxGroup: u32, srcGroup: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<u32>;
@group(0) @binding(2) var<storage, read> idx: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;
${LINEAR_INDEX_WGSL}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(${MAIN_1D_ARGS}) {
  let i = linearIndex(wid, lid, nwg);
  if (i >= p.total) { return; }
  let m = i / p.width;
  let d = i % p.width;
  let k = idx[m];
  var value = 0u;
  if (k >= 0) {
    let row = u32(k) + (m / p.idxGroup) * p.srcGroup;
    if (row < p.srcRows) { value = x[row * p.width + d]; }
  }
  out[i] = value;
}
`;

/**
 * Copies rows of `x` ([rows, inWidth] words) into columns `[outOffset, outOffset + inWidth)` of
 * `out` ([rows, outWidth] words): one part of a concatenation along the last axis.
 *
 * @example
 * ```ts
 * import { COPY_INTO_COLUMNS_WGSL } from "./gather.wgsl.ts";
 * console.log(COPY_INTO_COLUMNS_WGSL.includes("outOffset"));
 * ```
 */
export const COPY_INTO_COLUMNS_WGSL = /* wgsl */ `
struct Params { total: u32, inWidth: u32, outWidth: u32, outOffset: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;
${LINEAR_INDEX_WGSL}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(${MAIN_1D_ARGS}) {
  let i = linearIndex(wid, lid, nwg);
  if (i >= p.total) { return; }
  let row = i / p.inWidth;
  out[row * p.outWidth + p.outOffset + i % p.inWidth] = x[i];
}
`;

/**
 * Copies columns `[inOffset, inOffset + outWidth)` of `x` ([rows, inWidth] words) into `out`
 * ([rows, outWidth]): one part of a split along the last axis (the inverse of a concatenation).
 *
 * @example
 * ```ts
 * import { SLICE_COLUMNS_WGSL } from "./gather.wgsl.ts";
 * console.log(SLICE_COLUMNS_WGSL.includes("inOffset"));
 * ```
 */
export const SLICE_COLUMNS_WGSL = /* wgsl */ `
struct Params { total: u32, inWidth: u32, outWidth: u32, inOffset: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;
${LINEAR_INDEX_WGSL}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(${MAIN_1D_ARGS}) {
  let i = linearIndex(wid, lid, nwg);
  if (i >= p.total) { return; }
  let row = i / p.outWidth;
  out[i] = x[row * p.inWidth + p.inOffset + i % p.outWidth];
}
`;
