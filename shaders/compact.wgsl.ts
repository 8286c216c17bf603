/**
 * WGSL between flag vectors and −1-padded index lists (dispatched by `ops/compact.ts`).
 * @module
 */
import { kernel1dWgsl } from "./common.wgsl.ts";

/**
 * `valid[i] = idx[i] >= 0` (keep lists are -1 padded).
 *
 * @example
 * ```ts
 * import { INDEX_VALID_WGSL } from "./compact.wgsl.ts";
 * console.log(INDEX_VALID_WGSL.includes("idx[i] >= 0"));
 * ```
 */
export const INDEX_VALID_WGSL = kernel1dWgsl(
  "n: u32",
  `@group(0) @binding(1) var<storage, read> idx: array<i32>;
@group(0) @binding(2) var<storage, read_write> valid: array<u32>;`,
) + /* wgsl */ `
  if (i >= p.n) { return; }
  valid[i] = select(0u, 1u, idx[i] >= 0);
}
`;

/** Threads of the one workgroup of {@link COMPACT_FLAGS_WGSL}. */
export const COMPACT_WORKGROUP = 256;

/**
 * Stable compaction of flags in one workgroup: `index[j]` = the j-th flagged position (−1 from `total` on),
 * `total[0]` = the number flagged. Each thread counts a contiguous range, a workgroup scan gives its first
 * output slot.
 *
 * @example
 * ```ts
 * import { COMPACT_FLAGS_WGSL } from "./compact.wgsl.ts";
 * console.log(COMPACT_FLAGS_WGSL.includes("workgroupBarrier"));
 * ```
 */
export const COMPACT_FLAGS_WGSL = /* wgsl */ `
struct Params { n: u32, per: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> flags: array<u32>;
@group(0) @binding(2) var<storage, read_write> index: array<i32>;
@group(0) @binding(3) var<storage, read_write> total: array<u32>;
var<workgroup> sums: array<u32, ${COMPACT_WORKGROUP}>;
@compute @workgroup_size(${COMPACT_WORKGROUP})
fn main(@builtin(local_invocation_id) lid: vec3u) {
  let t = lid.x;
  let start = min(t * p.per, p.n);
  let end = min(start + p.per, p.n);
  var c = 0u;
  for (var i = start; i < end; i++) { if (flags[i] != 0u) { c++; } }
  sums[t] = c;
  workgroupBarrier();
  for (var off = 1u; off < ${COMPACT_WORKGROUP}u; off <<= 1u) {
    var v = 0u;
    if (t >= off) { v = sums[t - off]; }
    workgroupBarrier();
    sums[t] += v;
    workgroupBarrier();
  }
  let count = sums[${COMPACT_WORKGROUP - 1}];
  var j = sums[t] - c;
  for (var i = start; i < end; i++) {
    if (flags[i] != 0u) {
      index[j] = i32(i);
      j++;
    }
  }
  for (var i = count + t; i < p.n; i += ${COMPACT_WORKGROUP}u) { index[i] = -1; }
  if (t == 0u) { total[0] = count; }
}
`;
