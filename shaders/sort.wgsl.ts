/**
 * WGSL of the segmented sort shared by top-k and NMS: items (flat indices into `scores`) of each segment
 * ordered by (score desc, index asc). Step 1 bitonic-sorts blocks of 256 items in workgroup memory; step 2
 * gives each item its rank = place in its block + its binary-search position in every other block of the
 * segment (n·log n·n/256 work, every item in parallel; good for the ≤ ~16k items per segment here).
 *
 * Segment g spans `table[g].x ..+ table[g].y` of `items`. Grid: (block, segment) when `p.flat == 0`, else a
 * 1-D grid over every segment's blocks, `table[g].w` holding the first block of segment g (ascending), so
 * that a grid bound by the total item count (not segments × longest) suffices.
 * @module
 */

/** Items per sorted block (= threads per workgroup). */
export const SORT_BLOCK = 256;

const COMMON = /* wgsl */ `
struct Params { rowLen: u32, padCap: u32, numSegs: u32, flat: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> scores: array<f32>;
fn sortKey(f: f32) -> u32 {
  let u = bitcast<u32>(f);
  return select(u | 0x80000000u, ~u, (u & 0x80000000u) != 0u);
}
fn before(a: vec2u, b: vec2u) -> bool { return a.x > b.x || (a.x == b.x && a.y < b.y); }
// (segment, block within it) of a workgroup.
fn locate(wid: vec3u, nwg: vec3u) -> vec2u {
  if (p.flat == 0u) { return vec2u(wid.y, wid.x); }
  let wg = wid.y * nwg.x + wid.x;
  var lo = 0u;
  var hi = p.numSegs;
  while (hi - lo > 1u) {
    let mid = (lo + hi) / 2u;
    if (table[mid].w <= wg) { lo = mid; } else { hi = mid; }
  }
  return vec2u(lo, wg - table[lo].w);
}
`;

/** Step 1: bitonic sort of each block, written as (key, item) pairs to `blocks`. */
export const BLOCK_SORT_WGSL = /* wgsl */ `${COMMON}
@group(0) @binding(2) var<storage, read> items: array<u32>;
@group(0) @binding(3) var<storage, read> table: array<vec4u>;
@group(0) @binding(4) var<storage, read_write> blocks: array<vec2u>;
var<workgroup> buf: array<vec2u, ${SORT_BLOCK}>;
var<workgroup> wgLoc: vec4u;
@compute @workgroup_size(${SORT_BLOCK})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(num_workgroups) nwg: vec3u) {
  if (lid.x == 0u) {
    let loc = locate(wid, nwg);
    let t = table[loc.x];
    wgLoc = vec4u(t.x, t.y, loc.y * ${SORT_BLOCK}u, 0u);
  }
  let loc = workgroupUniformLoad(&wgLoc);
  if (loc.z >= loc.y) { return; }
  let i = loc.z + lid.x;
  var e = vec2u(0u, 0xffffffffu);
  if (i < loc.y) {
    let item = items[loc.x + i];
    e = vec2u(sortKey(scores[item]), item);
  }
  buf[lid.x] = e;
  workgroupBarrier();
  for (var size = 2u; size <= ${SORT_BLOCK}u; size <<= 1u) {
    for (var stride = size >> 1u; stride > 0u; stride >>= 1u) {
      let j = lid.x ^ stride;
      if (j > lid.x) {
        let a = buf[lid.x];
        let b = buf[j];
        if (select(before(a, b), before(b, a), (lid.x & size) == 0u)) {
          buf[lid.x] = b;
          buf[j] = a;
        }
      }
      workgroupBarrier();
    }
  }
  if (i < loc.y) { blocks[loc.x + i] = buf[lid.x]; }
}
`;

/** Step 2: ranks; writes `outIdx[start + rank] = item % rowLen` and the score; [count, padCap) → -1, -inf. */
export const MERGE_RANK_WGSL = /* wgsl */ `${COMMON}
@group(0) @binding(2) var<storage, read> blocks: array<vec2u>;
@group(0) @binding(3) var<storage, read> table: array<vec4u>;
@group(0) @binding(4) var<storage, read_write> outIdx: array<i32>;
@group(0) @binding(5) var<storage, read_write> outVal: array<f32>;
@compute @workgroup_size(${SORT_BLOCK})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(num_workgroups) nwg: vec3u) {
  let loc = locate(wid, nwg);
  let t = table[loc.x];
  let i = loc.y * ${SORT_BLOCK}u + lid.x;
  if (i < t.y) {
    let e = blocks[t.x + i];
    var rank = lid.x;
    let numBlocks = (t.y + ${SORT_BLOCK - 1}u) / ${SORT_BLOCK}u;
    for (var b = 0u; b < numBlocks; b++) {
      if (b == loc.y) { continue; }
      let first = b * ${SORT_BLOCK}u;
      var lo = first;
      var hi = min(t.y, first + ${SORT_BLOCK}u);
      while (lo < hi) {
        let mid = (lo + hi) / 2u;
        if (before(blocks[t.x + mid], e)) { lo = mid + 1u; } else { hi = mid; }
      }
      rank += lo - first;
    }
    outIdx[t.x + rank] = i32(e.y % p.rowLen);
    outVal[t.x + rank] = scores[e.y];
  } else if (i < p.padCap) {
    outIdx[t.x + i] = -1;
    // -inf as a runtime value: a WGSL const-expression must not evaluate to +-inf (Tint rejects
    // bitcast<f32>(0xff800000u) as one; naga accepts it). Same bits either way.
    var negInfBits = 0xff800000u;
    outVal[t.x + i] = bitcast<f32>(negInfBits);
  }
}
`;
