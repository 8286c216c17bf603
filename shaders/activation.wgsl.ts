/**
 * WGSL of the activations: sigmoid (elementwise, vec4 when possible, evaluated with the exponent of
 * −|x| so neither branch overflows) and softmax over the last axis (max-subtracted). Softmax has two
 * shapes of kernel: one thread per row for short rows (few classes, many rows), and one workgroup per row
 * for long rows, reducing max and sum through workgroup memory.
 * @module
 */
import { LINEAR_INDEX_WGSL, MAIN_1D_ARGS, WORKGROUP_1D } from "./common.wgsl.ts";

/** Threads per row of the workgroup-per-row softmax. */
export const SOFTMAX_WORKGROUP = 128;

/**
 * Sigmoid `1 / (1 + exp(−x))`; `vec4` selects vec4 loads.
 *
 * @example
 * ```ts
 * import { sigmoidWgsl } from "./activation.wgsl.ts";
 * console.log(sigmoidWgsl(true).includes("exp("));
 * ```
 */
export function sigmoidWgsl(vec4: boolean): string {
  const t = vec4 ? "vec4<f32>" : "f32";
  return /* wgsl */ `
struct Params { n: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<${t}>;
@group(0) @binding(2) var<storage, read_write> out: array<${t}>;
${LINEAR_INDEX_WGSL}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(${MAIN_1D_ARGS}) {
  let i = linearIndex(wid, lid, nwg);
  if (i >= p.n) { return; }
  let v = x[i];
  let e = exp(-abs(v));               // in (0, 1]: never overflows
  let r = 1.0 / (1.0 + e);            // sigmoid(|v|)
  out[i] = select(e * r, r, v >= ${t}(0));
}
`;
}

/**
 * Softmax with one thread per row (rows of a few elements).
 *
 * @example
 * ```ts
 * import { SOFTMAX_ROW_PER_THREAD_WGSL } from "./activation.wgsl.ts";
 * console.log(SOFTMAX_ROW_PER_THREAD_WGSL.includes("p.len"));
 * ```
 */
export const SOFTMAX_ROW_PER_THREAD_WGSL = /* wgsl */ `
struct Params { rows: u32, len: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
${LINEAR_INDEX_WGSL}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(${MAIN_1D_ARGS}) {
  let row = linearIndex(wid, lid, nwg);
  if (row >= p.rows) { return; }
  let base = row * p.len;
  var m = x[base];
  for (var k = 1u; k < p.len; k++) { m = max(m, x[base + k]); }
  var s = 0.0;
  for (var k = 0u; k < p.len; k++) { s += exp(x[base + k] - m); }
  let inv = 1.0 / s;
  for (var k = 0u; k < p.len; k++) { out[base + k] = exp(x[base + k] - m) * inv; }
}
`;

/**
 * Softmax with one workgroup per row (long rows): strided partial max and sum, tree-combined.
 *
 * @example
 * ```ts
 * import { SOFTMAX_ROW_PER_WORKGROUP_WGSL } from "./activation.wgsl.ts";
 * console.log(SOFTMAX_ROW_PER_WORKGROUP_WGSL.includes("workgroupBarrier"));
 * ```
 */
export const SOFTMAX_ROW_PER_WORKGROUP_WGSL = /* wgsl */ `
struct Params { rows: u32, len: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
var<workgroup> partial: array<f32, ${SOFTMAX_WORKGROUP}>;

fn reduce(lid: u32, is_max: bool) -> f32 {
  for (var stride = ${SOFTMAX_WORKGROUP / 2}u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) {
      let other = partial[lid + stride];
      partial[lid] = select(partial[lid] + other, max(partial[lid], other), is_max);
    }
    workgroupBarrier();
  }
  let r = partial[0];
  workgroupBarrier();                  // everyone has read partial[0] before it is overwritten
  return r;
}

@compute @workgroup_size(${SOFTMAX_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(num_workgroups) nwg: vec3u) {
  let row = wid.y * nwg.x + wid.x;     // workgroup-uniform
  if (row >= p.rows) { return; }
  let base = row * p.len;
  var m = x[base];
  for (var k = lid.x; k < p.len; k += ${SOFTMAX_WORKGROUP}u) { m = max(m, x[base + k]); }
  partial[lid.x] = m;
  workgroupBarrier();
  let row_max = reduce(lid.x, true);
  var s = 0.0;
  for (var k = lid.x; k < p.len; k += ${SOFTMAX_WORKGROUP}u) { s += exp(x[base + k] - row_max); }
  partial[lid.x] = s;
  workgroupBarrier();
  let inv = 1.0 / reduce(lid.x, false);
  for (var k = lid.x; k < p.len; k += ${SOFTMAX_WORKGROUP}u) { out[base + k] = exp(x[base + k] - row_max) * inv; }
}
`;
