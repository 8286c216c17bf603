/**
 * WGSL of torchvision's `Matcher` over B images at once, without materialising IoU matrices in the fused
 * variant (the quality of (gt g, element n) is recomputed with `boxIou`, bit-identical in both passes).
 *
 Both passes walk the image's GT in tiles of {@link MATCH_TILE} (boxes staged in workgroup memory in the
 * fused variant); grid y = the image.
 * - pass "max" (only with low-quality matches): per GT the highest quality over the image's valid
 *   elements as an order-preserving u32 key. A workgroup takes {@link MATCH_MAX_BLOCK} elements (staged in
 *   workgroup memory); thread t serves GT t mod tileG over every (256 / tileG)-th element, keeping its max
 *   in a register, then one thread per GT merges the partial maxima and does one global atomicMax. (A
 *   first version with a workgroup atomicMax per (element, GT) took twice as long as pass "match".)
 * - pass "match" (x = blocks of 256 elements, one per thread): per element the first GT of highest quality (torch's `max(dim=0)` keeps the first of
 *   tied maxima), −1 below `low`, −2 in [low, high), and with low-quality matches the argmax again where
 *   the element's quality equals some GT's maximum (torchvision's `set_low_quality_matches_`, ties
 *   included); −3 for invalid elements, −1 for every element of an image without GT.
 * @module
 */
import { BOX_IOU_FN_WGSL } from "../box_iou.wgsl.ts";

/** GT per workgroup tile. */
export const MATCH_TILE = 64;
/** Threads per workgroup (and elements per workgroup of pass "match"). */
export const MATCH_WORKGROUP = 256;
/** Elements per workgroup of pass "max". */
export const MATCH_MAX_BLOCK = 1024;

/** Static variants of the matcher kernels. */
export interface MatcherVariant {
  /** Compute IoU from boxes (true) or read a quality matrix `[Gtot, N]` (false). */
  fused: boolean;
  /** Which pass. */
  pass: "max" | "match";
}

/**
 * One matcher pass. Bindings: table `[B, 2]`, then gtBoxes + boxes (fused) or quality (matrix), valid,
 * gtMax (atomic in pass "max"), and matches (pass "match").
 *
 * @example
 * ```ts
 * import { matcherWgsl } from "./matcher.wgsl.ts";
 * console.log(matcherWgsl({ fused: true, pass: "match" }).includes("boxIou("));
 * ```
 */
export function matcherWgsl({ fused, pass }: MatcherVariant): string {
  const inputs = fused
    ? `@group(0) @binding(2) var<storage, read> gtBoxes: array<vec4f>;
@group(0) @binding(3) var<storage, read> boxes: array<vec4f>;
var<workgroup> tileBoxes: array<vec4f, ${MATCH_TILE}>;
${BOX_IOU_FN_WGSL}`
    : `@group(0) @binding(2) var<storage, read> quality: array<f32>;`;
  const last = fused ? 4 : 3;
  const head = `
struct Params { n: u32, boxStride: u32, hasValid: u32, lowQuality: u32, high: f32, low: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> table: array<vec2u>;
${inputs}
@group(0) @binding(${last}) var<storage, read> valid: array<u32>;
fn sortKey(f: f32) -> u32 {
  let u = bitcast<u32>(f);
  return select(u | 0x80000000u, ~u, (u & 0x80000000u) != 0u);
}
fn isLive(b: u32, n: u32) -> bool {
  return n < p.n && (p.hasValid == 0u || valid[b * p.n + min(n, p.n - 1u)] != 0u);
}`;
  const stage = fused
    ? `if (lid.x < ${MATCH_TILE}u) { tileBoxes[lid.x] = gtBoxes[seg.x + min(g0 + lid.x, seg.y - 1u)]; }`
    : "";
  return pass === "max" ? maxPass(head, last, fused, stage) : matchPass(head, last, fused, stage);
}

function maxPass(head: string, last: number, fused: boolean, stage: string): string {
  const quality = fused
    ? "boxIou(tileBoxes[j], elemBoxes[e])"
    : "quality[(seg.x + g0 + j) * p.n + first + e]";
  return /* wgsl */ `${head}
@group(0) @binding(${last + 1}) var<storage, read_write> gtMax: array<atomic<u32>>;
${fused ? `var<workgroup> elemBoxes: array<vec4f, ${MATCH_MAX_BLOCK}>;` : ""}
var<workgroup> elemLive: array<u32, ${MATCH_MAX_BLOCK}>;
var<workgroup> partial: array<u32, ${MATCH_WORKGROUP}>;
@compute @workgroup_size(${MATCH_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let b = wid.y;
  let seg = table[b];
  let first = wid.x * ${MATCH_MAX_BLOCK}u;
  for (var e = lid.x; e < ${MATCH_MAX_BLOCK}u; e += ${MATCH_WORKGROUP}u) {
    elemLive[e] = select(0u, 1u, isLive(b, first + e));
    ${fused ? "elemBoxes[e] = boxes[b * p.boxStride + min(first + e, p.n - 1u)];" : ""}
  }
  for (var g0 = 0u; g0 < seg.y; g0 += ${MATCH_TILE}u) {
    let tileG = min(${MATCH_TILE}u, seg.y - g0);
    ${stage}
    workgroupBarrier();
    let j = lid.x % tileG;
    let part = lid.x / tileG;
    let parts = ${MATCH_WORKGROUP}u / tileG;
    var best = 0u;
    if (part < parts) {
      for (var e = part; e < ${MATCH_MAX_BLOCK}u; e += parts) {
        if (elemLive[e] != 0u) { best = max(best, sortKey(${quality})); }
      }
    }
    partial[lid.x] = best;
    workgroupBarrier();
    if (lid.x < tileG) {
      var m = 0u;
      for (var k = 0u; k < parts; k++) { m = max(m, partial[lid.x + k * tileG]); }
      if (m != 0u) { atomicMax(&gtMax[seg.x + g0 + lid.x], m); }
    }
    workgroupBarrier();
  }
}
`;
}

function matchPass(head: string, last: number, fused: boolean, stage: string): string {
  const quality = fused ? "boxIou(tileBoxes[j], box)" : "quality[(seg.x + g) * p.n + n]";
  return /* wgsl */ `${head}
@group(0) @binding(${last + 1}) var<storage, read> gtMax: array<u32>;
@group(0) @binding(${last + 2}) var<storage, read_write> matches: array<i32>;
@compute @workgroup_size(${MATCH_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let b = wid.y;
  let seg = table[b];
  let n = wid.x * ${MATCH_WORKGROUP}u + lid.x;
  let live = isLive(b, n);
  ${fused ? "let box = boxes[b * p.boxStride + min(n, p.n - 1u)];" : ""}
  var best = 0.0;
  var arg = 0u;
  var lowq = false;
  for (var g0 = 0u; g0 < seg.y; g0 += ${MATCH_TILE}u) {
    ${stage}
    ${fused ? "workgroupBarrier();" : ""}
    if (live) {
      for (var j = 0u; j < min(${MATCH_TILE}u, seg.y - g0); j++) {
        let g = g0 + j;
        let q = ${quality};
        if (g == 0u || q > best) { best = q; arg = g; }
        if (p.lowQuality != 0u && sortKey(q) == gtMax[seg.x + g]) { lowq = true; }
      }
    }
    workgroupBarrier();
  }
  if (n >= p.n) { return; }
  var m = -3;
  if (live) {
    m = -1;
    if (seg.y > 0u) {
      if (best >= p.high) { m = i32(arg); } else if (best >= p.low) { m = -2; }
      if (lowq) { m = i32(arg); }
    }
  }
  matches[b * p.n + n] = m;
}
`;
}
