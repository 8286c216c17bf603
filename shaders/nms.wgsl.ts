/**
 * WGSL of (batched) NMS. Boxes are grouped into segments (image × class), each segment's boxes sorted by
 * score (`shaders/sort.wgsl.ts`), then per segment: an upper-triangular IoU bitmask (row i, word w: bit j set
 * when box j > i of the same segment overlaps box i with IoU > threshold), and a greedy sweep by one
 * workgroup per segment over the mask words, 32 boxes at a time, like torchvision's CUDA NMS.
 *
 * Segment table `table[s]` = (start in the grouped order, count, fill counter, 0).
 * IoU as torchvision: inter / (areaA + areaB − inter), areas (x2 − x1)(y2 − y1), no +1, suppress when `>`.
 * @module
 */
import { LINEAR_INDEX_WGSL, MAIN_1D_ARGS, WORKGROUP_1D } from "./common.wgsl.ts";

/** Threads per workgroup of the mask and sweep kernels. */
export const NMS_WORKGROUP = 256;
/** Largest per-segment box count the sweep handles (its removed-bitset lives in workgroup memory). */
export const NMS_MAX_SEGMENT = 16384;

/** segOf[i] = image·classes + class of box i, or 0xffffffff when invalid; counts boxes per segment. */
export const NMS_COUNT_WGSL = /* wgsl */ `
struct Params { n: u32, classes: u32, images: u32, hasValid: u32, hasIdxs: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> valid: array<u32>;
@group(0) @binding(2) var<storage, read> idxs: array<i32>;
@group(0) @binding(3) var<storage, read> imageSegs: array<vec2u>;
@group(0) @binding(4) var<storage, read_write> segOf: array<u32>;
@group(0) @binding(5) var<storage, read_write> segCount: array<atomic<u32>>;
${LINEAR_INDEX_WGSL}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(${MAIN_1D_ARGS}) {
  let i = linearIndex(wid, lid, nwg);
  if (i >= p.n) { return; }
  var image = 0u;
  for (var m = 0u; m < p.images; m++) {
    if (i >= imageSegs[m].x) { image = m; }
  }
  var label = 0;
  if (p.hasIdxs != 0u) { label = idxs[i]; }
  let ok = (p.hasValid == 0u || valid[i] != 0u) && label >= 0 && u32(label) < p.classes;
  let s = image * p.classes + u32(label);
  segOf[i] = select(0xffffffffu, s, ok);
  if (ok) { atomicAdd(&segCount[s], 1u); }
}
`;

/**
 * One workgroup: exclusive scans of the segment counts and of their 256-item sort blocks into the segment
 * table (start, count, 0, first sort block).
 */
export const NMS_SCAN_WGSL = /* wgsl */ `
struct Params { numSegs: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> segCount: array<u32>;
@group(0) @binding(2) var<storage, read_write> table: array<vec4u>;
var<workgroup> sums: array<vec2u, ${NMS_WORKGROUP}>;
@compute @workgroup_size(${NMS_WORKGROUP})
fn main(@builtin(local_invocation_id) lid: vec3u) {
  var carry = vec2u(0u);
  for (var base = 0u; base < p.numSegs; base += ${NMS_WORKGROUP}u) {
    let s = base + lid.x;
    let c = select(0u, segCount[min(s, p.numSegs - 1u)], s < p.numSegs);
    let mine = vec2u(c, (c + ${NMS_WORKGROUP - 1}u) / ${NMS_WORKGROUP}u);
    sums[lid.x] = mine;
    workgroupBarrier();
    for (var off = 1u; off < ${NMS_WORKGROUP}u; off *= 2u) {
      var v = sums[lid.x];
      if (lid.x >= off) { v += sums[lid.x - off]; }
      workgroupBarrier();
      sums[lid.x] = v;
      workgroupBarrier();
    }
    let first = carry + sums[lid.x] - mine;
    if (s < p.numSegs) { table[s] = vec4u(first.x, c, 0u, first.y); }
    carry += sums[${NMS_WORKGROUP - 1}u];
    workgroupBarrier();
  }
}
`;

/** Scatters valid box indices into their segment's range (any order; the segmented sort orders them). */
export const NMS_SCATTER_WGSL = /* wgsl */ `
struct Params { n: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> segOf: array<u32>;
@group(0) @binding(2) var<storage, read_write> table: array<atomic<u32>>;
@group(0) @binding(3) var<storage, read_write> items: array<u32>;
@group(0) @binding(4) var<storage, read_write> keepFlag: array<u32>;
${LINEAR_INDEX_WGSL}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(${MAIN_1D_ARGS}) {
  let i = linearIndex(wid, lid, nwg);
  if (i >= p.n) { return; }
  keepFlag[i] = 0u;
  let s = segOf[i];
  if (s == 0xffffffffu) { return; }
  let slot = atomicAdd(&table[4u * s + 2u], 1u);
  items[atomicLoad(&table[4u * s]) + slot] = i;
}
`;

/** Words of the IoU mask one thread computes (8 words = 256 column boxes). */
export const NMS_WORDS_PER_THREAD = 8;

/** sortedBoxes[p] = boxes[sorted[p]] for every grouped position p (contiguous reads in the mask kernel). */
export const NMS_GATHER_WGSL = /* wgsl */ `
struct Params { n: u32, numSegs: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> boxes: array<vec4f>;
@group(0) @binding(2) var<storage, read> sorted: array<i32>;
@group(0) @binding(3) var<storage, read> table: array<vec4u>;
@group(0) @binding(4) var<storage, read_write> sortedBoxes: array<vec4f>;
${LINEAR_INDEX_WGSL}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(${MAIN_1D_ARGS}) {
  let i = linearIndex(wid, lid, nwg);
  let last = table[p.numSegs - 1u];
  if (i < min(p.n, last.x + last.y)) { sortedBoxes[i] = boxes[sorted[i]]; }
}
`;

/**
 * IoU bitmask: thread (grouped position q, chunk c) computes words [8c, 8c + 8) of row q (only words at or
 * right of the diagonal) within its segment's first min(count, cap) boxes. Rows have stride p.words.
 */
export const NMS_MASK_WGSL = /* wgsl */ `
struct Params { n: u32, numSegs: u32, cap: u32, words: u32, chunks: u32, threshold: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> boxes: array<vec4f>;
@group(0) @binding(2) var<storage, read> table: array<vec4u>;
@group(0) @binding(3) var<storage, read_write> mask: array<u32>;
${LINEAR_INDEX_WGSL}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(${MAIN_1D_ARGS}) {
  let linear = linearIndex(wid, lid, nwg);
  let q = linear / p.chunks;
  let c = linear % p.chunks;
  if (q >= p.n) { return; }
  var lo = 0u;
  var hi = p.numSegs;
  while (hi - lo > 1u) {
    let mid = (lo + hi) / 2u;
    if (table[mid].x <= q) { lo = mid; } else { hi = mid; }
  }
  let t = table[lo];
  let i = q - t.x;
  let n = min(t.y, p.cap);
  if (i >= n) { return; }
  let a = boxes[q];
  let areaA = (a.z - a.x) * (a.w - a.y);
  let wEnd = min(c * ${NMS_WORDS_PER_THREAD}u + ${NMS_WORDS_PER_THREAD}u, (n + 31u) / 32u);
  for (var w = max(c * ${NMS_WORDS_PER_THREAD}u, i / 32u); w < wEnd; w++) {
    var bits = 0u;
    for (var j = max(w * 32u, i + 1u); j < min(n, w * 32u + 32u); j++) {
      let b = boxes[t.x + j];
      let iw = max(min(a.z, b.z) - max(a.x, b.x), 0.0);
      let ih = max(min(a.w, b.w) - max(a.y, b.y), 0.0);
      let inter = iw * ih;
      let areaB = (b.z - b.x) * (b.w - b.y);
      if (inter / (areaA + areaB - inter) > p.threshold) { bits |= 1u << (j - w * 32u); }
    }
    mask[q * p.words + w] = bits;
  }
}
`;

/** Greedy sweep, one workgroup per segment: keepFlag[box] = 1 for the boxes NMS keeps. */
export const NMS_SWEEP_WGSL = /* wgsl */ `
struct Params { cap: u32, words: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> sorted: array<i32>;
@group(0) @binding(2) var<storage, read> table: array<vec4u>;
@group(0) @binding(3) var<storage, read> mask: array<u32>;
@group(0) @binding(4) var<storage, read_write> keepFlag: array<u32>;
var<workgroup> removed: array<u32, ${NMS_MAX_SEGMENT / 32}>;
var<workgroup> wgValue: u32;
@compute @workgroup_size(${NMS_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let t = table[wid.x];
  if (lid.x == 0u) { wgValue = min(t.y, p.cap); }
  let n = workgroupUniformLoad(&wgValue);
  let blocks = (n + 31u) / 32u;
  for (var w = lid.x; w < blocks; w += ${NMS_WORKGROUP}u) { removed[w] = 0u; }
  workgroupBarrier();
  for (var b = 0u; b < blocks; b++) {
    if (lid.x == 0u) {
      var word = removed[b];
      var kept = 0u;
      for (var bit = 0u; bit < min(32u, n - b * 32u); bit++) {
        if (((word >> bit) & 1u) == 0u) {
          kept |= 1u << bit;
          word |= mask[(t.x + b * 32u + bit) * p.words + b];
        }
      }
      wgValue = kept;
    }
    let kept = workgroupUniformLoad(&wgValue);
    if (lid.x < 32u && ((kept >> lid.x) & 1u) != 0u) { keepFlag[sorted[t.x + b * 32u + lid.x]] = 1u; }
    for (var w = b + 1u + lid.x; w < blocks; w += ${NMS_WORKGROUP}u) {
      var acc = removed[w];
      var rest = kept;
      while (rest != 0u) {
        acc |= mask[(t.x + b * 32u + firstTrailingBit(rest)) * p.words + w];
        rest &= rest - 1u;
      }
      removed[w] = acc;
    }
    workgroupBarrier();
  }
}
`;
