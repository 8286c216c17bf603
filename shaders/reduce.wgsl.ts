/**
 * WGSL of the sum reduction. The input is viewed as [outer, len, inner]; one workgroup reduces one output
 * element (o, i) over k < len: each thread accumulates a strided partial sum, then a shared-memory tree
 * combines the 256 partials. `p.total` bounds the flat index so a padded view (the first pass of a full
 * sum) never reads past the tensor.
 * @module
 */
import type { WgslScalar } from "./elementwise.wgsl.ts";

/** Threads per workgroup of the reduction. */
export const REDUCE_WORKGROUP = 256;

/**
 * The reduction kernel for one scalar type.
 *
 * @example
 * ```ts
 * import { sumWgsl } from "./reduce.wgsl.ts";
 * console.log(sumWgsl("f32").includes("workgroupBarrier"));
 * ```
 */
export function sumWgsl(scalar: WgslScalar): string {
  return /* wgsl */ `
struct Params { outer: u32, len: u32, inner: u32, total: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<${scalar}>;
@group(0) @binding(2) var<storage, read_write> out: array<${scalar}>;
var<workgroup> partial: array<${scalar}, ${REDUCE_WORKGROUP}>;

@compute @workgroup_size(${REDUCE_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(num_workgroups) nwg: vec3u) {
  let o = wid.y * nwg.x + wid.x;          // output index = outerIndex * inner + innerIndex
  let valid = o < p.outer * p.inner;
  var acc = ${scalar}(0);
  if (valid) {
    let base = (o / p.inner) * p.len * p.inner + (o % p.inner);
    for (var k = lid.x; k < p.len; k += ${REDUCE_WORKGROUP}u) {
      let idx = base + k * p.inner;
      if (idx < p.total) { acc += x[idx]; }
    }
  }
  partial[lid.x] = acc;
  workgroupBarrier();
  for (var stride = ${REDUCE_WORKGROUP / 2}u; stride > 0u; stride = stride / 2u) {
    if (lid.x < stride) { partial[lid.x] += partial[lid.x + stride]; }
    workgroupBarrier();
  }
  if (valid && lid.x == 0u) { out[o] = partial[0]; }
}
`;
}
