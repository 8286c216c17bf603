/**
 * WGSL of torchvision's `Matcher` over B images at once, without materialising IoU matrices in the fused
 * variant (the quality of (gt g, element n) is recomputed with `boxIou`, bit-identical in both passes).
 *
 * Grid: x = blocks of 256 elements of one image, y = the image. Each workgroup walks its image's GT in
 * tiles of {@link MATCH_TILE} (GT boxes staged in workgroup memory in the fused variant).
 * - pass "max" (only with low-quality matches): per GT the highest quality over the image's valid
 *   elements, as an order-preserving u32 key, reduced with workgroup atomics then one global atomicMax
 *   per (workgroup, GT);
 * - pass "match": per element the first GT of highest quality (torch's `max(dim=0)` keeps the first of
 *   tied maxima), −1 below `low`, −2 in [low, high), and with low-quality matches the argmax again where
 *   the element's quality equals some GT's maximum (torchvision's `set_low_quality_matches_`, ties
 *   included); −3 for invalid elements, −1 for every element of an image without GT.
 * @module
 */
import { BOX_IOU_FN_WGSL } from "./box_iou.wgsl.ts";

/** GT per workgroup tile. */
export const MATCH_TILE = 64;
/** Elements per workgroup. */
export const MATCH_WORKGROUP = 256;

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
  const outputs = pass === "max"
    ? `@group(0) @binding(${last + 1}) var<storage, read_write> gtMax: array<atomic<u32>>;
var<workgroup> tileMax: array<atomic<u32>, ${MATCH_TILE}>;`
    : `@group(0) @binding(${last + 1}) var<storage, read> gtMax: array<u32>;
@group(0) @binding(${last + 2}) var<storage, read_write> matches: array<i32>;`;
  const qualityOf = fused ? "boxIou(tileBoxes[j], box)" : "quality[(seg.x + g0 + j) * p.n + n]";
  const stage = fused ? `tileBoxes[lid.x] = gtBoxes[seg.x + min(g0 + lid.x, seg.y - 1u)];` : "";
  const perTile = pass === "max"
    ? `if (lid.x < ${MATCH_TILE}u) { atomicStore(&tileMax[lid.x], 0u); ${stage} }
    workgroupBarrier();
    if (live) {
      for (var j = 0u; j < end; j++) {
        let key = sortKey(${qualityOf});
        if (key > atomicLoad(&tileMax[j])) { atomicMax(&tileMax[j], key); }
      }
    }
    workgroupBarrier();
    if (lid.x < end) {
      let key = atomicLoad(&tileMax[lid.x]);
      if (key != 0u) { atomicMax(&gtMax[seg.x + g0 + lid.x], key); }
    }`
    : `${fused ? `if (lid.x < ${MATCH_TILE}u) { ${stage} }\n    workgroupBarrier();` : ""}
    if (live) {
      for (var j = 0u; j < end; j++) {
        let q = ${qualityOf};
        let g = g0 + j;
        if (g == 0u || q > best) { best = q; arg = g; }
        if (p.lowQuality != 0u && sortKey(q) == gtMax[seg.x + g]) { lowq = true; }
      }
    }`;
  const finish = pass === "max" ? "" : `
  if (n >= p.n) { return; }
  var m = -3;
  if (live) {
    m = -1;
    if (seg.y > 0u) {
      if (best >= p.high) { m = i32(arg); } else if (best >= p.low) { m = -2; }
      if (lowq) { m = i32(arg); }
    }
  }
  matches[b * p.n + n] = m;`;
  return /* wgsl */ `
struct Params { n: u32, boxStride: u32, hasValid: u32, lowQuality: u32, high: f32, low: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> table: array<vec2u>;
${inputs}
@group(0) @binding(${last}) var<storage, read> valid: array<u32>;
${outputs}

fn sortKey(f: f32) -> u32 {
  let u = bitcast<u32>(f);
  return select(u | 0x80000000u, ~u, (u & 0x80000000u) != 0u);
}

@compute @workgroup_size(${MATCH_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let b = wid.y;
  let seg = table[b];
  let n = wid.x * ${MATCH_WORKGROUP}u + lid.x;
  let inRange = n < p.n;
  let nc = min(n, p.n - 1u);
  let live = inRange && (p.hasValid == 0u || valid[b * p.n + nc] != 0u);
  ${fused ? "let box = boxes[b * p.boxStride + nc];" : ""}
  var best = 0.0;
  var arg = 0u;
  var lowq = false;
  for (var g0 = 0u; g0 < seg.y; g0 += ${MATCH_TILE}u) {
    let end = min(${MATCH_TILE}u, seg.y - g0);
    ${perTile}
    workgroupBarrier();
  }${finish}
}
`;
}
