/**
 * WGSL of the segmented top-k: a 4-pass radix select over order-preserving u32 keys (8 bits per pass,
 * workgroup-local histograms merged with global atomics) and a compaction of the selected elements, which
 * `shaders/sort.wgsl.ts` then orders.
 *
 * A segment g = row b × segment s of the row; `segs[s]` = (offset in row, length). The per-segment state
 * `table[g]` = (start of its output slots, selected count, key prefix, still needed at the prefix).
 * @module
 */

/** Threads per workgroup of every top-k kernel (= the 256 bins of a radix digit). */
export const TOPK_WORKGROUP = 256;
/** Elements one histogram / compaction workgroup scans. */
export const TOPK_CHUNK = 4096;

/** f32 → u32 key whose unsigned order is the float order (-inf < … < -0 < +0 < … < +inf). */
const SORT_KEY_WGSL = /* wgsl */ `
fn sortKey(f: f32) -> u32 {
  let u = bitcast<u32>(f);
  return select(u | 0x80000000u, ~u, (u & 0x80000000u) != 0u);
}
`;

const SCAN_BINDINGS = /* wgsl */ `
struct Params { rowLen: u32, segsPerRow: u32, round: u32, hasValid: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> scores: array<f32>;
@group(0) @binding(2) var<storage, read> valid: array<u32>;
@group(0) @binding(3) var<storage, read> segs: array<vec2u>;
`;

/** Pass `p.round` histogram of digit (key >> 24-8·pass) & 255 over elements matching the prefix so far. */
export const TOPK_HISTOGRAM_WGSL = /* wgsl */ `${SCAN_BINDINGS}
@group(0) @binding(4) var<storage, read> table: array<vec4u>;
@group(0) @binding(5) var<storage, read_write> hist: array<atomic<u32>>;
var<workgroup> local: array<atomic<u32>, ${TOPK_WORKGROUP}>;
${SORT_KEY_WGSL}
@compute @workgroup_size(${TOPK_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(num_workgroups) nwg: vec3u) {
  let g = wid.y;
  let seg = segs[g % p.segsPerRow];
  let rowStart = (g / p.segsPerRow) * p.rowLen + seg.x;
  atomicStore(&local[lid.x], 0u);
  workgroupBarrier();
  let first = wid.x * ${TOPK_CHUNK}u;
  if (first < seg.y) {
    let shift = 24u - 8u * p.round;
    let high = table[g].z >> (shift + 8u) ;
    let end = min(seg.y, first + ${TOPK_CHUNK}u);
    for (var i = first + lid.x; i < end; i += ${TOPK_WORKGROUP}u) {
      let flat = rowStart + i;
      if (p.hasValid != 0u && valid[flat] == 0u) { continue; }
      let key = sortKey(scores[flat]);
      if (p.round == 0u || (key >> (shift + 8u)) == high) {
        atomicAdd(&local[(key >> shift) & 255u], 1u);
      }
    }
  }
  workgroupBarrier();
  let c = atomicLoad(&local[lid.x]);
  if (c > 0u) { atomicAdd(&hist[(p.round * nwg.y + g) * ${TOPK_WORKGROUP}u + lid.x], c); }
}
`;

/** One workgroup per segment: picks the digit holding the k-th largest key and narrows the prefix. */
export const TOPK_SELECT_WGSL = /* wgsl */ `
struct Params { k: u32, segsPerRow: u32, round: u32, numSegs: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> hist: array<u32>;
@group(0) @binding(2) var<storage, read_write> table: array<vec4u>;
var<workgroup> suffix: array<u32, ${TOPK_WORKGROUP}>;
@compute @workgroup_size(${TOPK_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let g = wid.x;
  var t = table[g];
  suffix[lid.x] = hist[(p.round * p.numSegs + g) * ${TOPK_WORKGROUP}u + lid.x];
  workgroupBarrier();
  for (var off = 1u; off < ${TOPK_WORKGROUP}u; off *= 2u) {
    var v = suffix[lid.x];
    if (lid.x + off < ${TOPK_WORKGROUP}u) { v += suffix[lid.x + off]; }
    workgroupBarrier();
    suffix[lid.x] = v;
    workgroupBarrier();
  }
  if (p.round == 0u) {
    let kEff = min(p.k, suffix[0]);
    t = vec4u(g * p.k, kEff, 0u, kEff);
    if (kEff == 0u && lid.x == 0u) { table[g] = t; }
  }
  let above = select(0u, suffix[min(lid.x + 1u, ${TOPK_WORKGROUP - 1}u)], lid.x + 1u < ${TOPK_WORKGROUP}u);
  if (t.w > 0u && suffix[lid.x] >= t.w && above < t.w) {
    table[g] = vec4u(t.x, t.y, t.z | (lid.x << (24u - 8u * p.round)), t.w - above);
  }
}
`;

/** Writes the selected flat indices: keys above the threshold, then the first needed ones equal to it. */
export const TOPK_COMPACT_WGSL = /* wgsl */ `${SCAN_BINDINGS}
@group(0) @binding(4) var<storage, read> table: array<vec4u>;
@group(0) @binding(5) var<storage, read_write> counters: array<atomic<u32>>;
@group(0) @binding(6) var<storage, read_write> cand: array<u32>;
@group(0) @binding(7) var<storage, read_write> counts: array<u32>;
${SORT_KEY_WGSL}
@compute @workgroup_size(${TOPK_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let g = wid.y;
  let seg = segs[g % p.segsPerRow];
  let rowStart = (g / p.segsPerRow) * p.rowLen + seg.x;
  let t = table[g];
  if (wid.x == 0u && lid.x == 0u) { counts[g] = t.y; } // the selected count of the segment
  let first = wid.x * ${TOPK_CHUNK}u;
  if (first >= seg.y || t.y == 0u) { return; }
  let greater = t.y - t.w;
  let end = min(seg.y, first + ${TOPK_CHUNK}u);
  for (var i = first + lid.x; i < end; i += ${TOPK_WORKGROUP}u) {
    let flat = rowStart + i;
    if (p.hasValid != 0u && valid[flat] == 0u) { continue; }
    let key = sortKey(scores[flat]);
    if (key > t.z) {
      cand[t.x + atomicAdd(&counters[2u * g], 1u)] = flat;
    } else if (key == t.z) {
      let slot = atomicAdd(&counters[2u * g + 1u], 1u);
      if (slot < t.w) { cand[t.x + greater + slot] = flat; }
    }
  }
}
`;
