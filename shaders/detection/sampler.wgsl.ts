/**
 * WGSL of the balanced positive/negative sampler (torchvision's `BalancedPositiveNegativeSampler` with GPU
 * randomness). Each element i of image b gets a key `permute24(i, salt(seed, step, firstImage + b))`: a keyed bijection
 * of [0, 2^24) (xor, odd multiply and xorshift rounds, keys from lowbias32), so the keys of one image are
 * distinct (exact as f32) and top-k by key picks a uniformly random subset with no ties to break.
 * @module
 */
import { kernel1dWgsl } from "../common.wgsl.ts";

/** Largest number of elements per image (the key space). */
export const SAMPLER_MAX_ELEMENTS = 1 << 24;

const HASH_WGSL = /* wgsl */ `
fn lowbias32(x0: u32) -> u32 {
  var x = x0;
  x ^= x >> 16u;
  x *= 0x7feb352du;
  x ^= x >> 15u;
  x *= 0x846ca68bu;
  x ^= x >> 16u;
  return x;
}
fn permute24(i: u32, salt: u32) -> u32 {
  var x = i & 0xffffffu;
  for (var r = 0u; r < 3u; r++) {
    let k = lowbias32(salt + r * 0x9e3779b9u);
    x = ((x ^ k) * (k | 1u)) & 0xffffffu;
    x ^= x >> 12u;
    x = (x * 0x2c1b3du) & 0xffffffu;
    x ^= x >> 11u;
  }
  return x;
}
`;

/**
 * Keys and candidate flags: `scores [B, 2, L]` = the key twice (segment 0 for positives, 1 for negatives),
 * `cand [B, 2, L]` = (label ≥ 1, label == 0).
 *
 * @example
 * ```ts
 * import { SAMPLER_KEYS_WGSL } from "./sampler.wgsl.ts";
 * console.log(SAMPLER_KEYS_WGSL.includes("permute24"));
 * ```
 */
export const SAMPLER_KEYS_WGSL = kernel1dWgsl(
  "total: u32, len: u32, seed: u32, step: u32, firstImage: u32",
  `@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read_write> scores: array<f32>;
@group(0) @binding(3) var<storage, read_write> cand: array<u32>;`,
  HASH_WGSL,
  "e",
) + /* wgsl */ `
  if (e >= p.total) { return; }
  let b = e / p.len;
  let i = e % p.len;
  let salt = lowbias32(lowbias32(lowbias32(p.seed) ^ p.step) ^ (p.firstImage + b));
  let key = f32(permute24(i, salt));
  let label = labels[e];
  let row = 2u * b * p.len + i;
  scores[row] = key;
  scores[row + p.len] = key;
  cand[row] = select(0u, 1u, label >= 1);
  cand[row + p.len] = select(0u, 1u, label == 0);
}
`;

/**
 * Marks the first `numPos` of the positive top-k list and the first `numNeg` of the negative one, and
 * (invocation 0) writes the counts and their sums over images: numPos = min(#pos, posCap), numNeg = min(#neg, batch − numPos).
 *
 * @example
 * ```ts
 * import { SAMPLER_MARK_WGSL } from "./sampler.wgsl.ts";
 * console.log(SAMPLER_MARK_WGSL.includes("numNeg"));
 * ```
 */
export const SAMPLER_MARK_WGSL = kernel1dWgsl(
  "images: u32, k: u32, posCap: u32, batch: u32, len: u32",
  `@group(0) @binding(1) var<storage, read> indices: array<i32>;
@group(0) @binding(2) var<storage, read> counts: array<u32>;
@group(0) @binding(3) var<storage, read_write> positive: array<u32>;
@group(0) @binding(4) var<storage, read_write> negative: array<u32>;
@group(0) @binding(5) var<storage, read_write> numPos: array<u32>;
@group(0) @binding(6) var<storage, read_write> numNeg: array<u32>;
@group(0) @binding(7) var<storage, read_write> totals: array<u32>; // (sampled, positives)`,
  `fn limits(b: u32) -> vec2u {
  let numPos = min(counts[2u * b], p.posCap);
  return vec2u(numPos, min(counts[2u * b + 1u], p.batch - numPos));
}`,
  "e",
) + /* wgsl */ `
  if (e == 0u) {
    var sum = vec2u(0u);
    for (var b = 0u; b < p.images; b++) {
      let n = limits(b);
      numPos[b] = n.x;
      numNeg[b] = n.y;
      sum += vec2u(n.x + n.y, n.x);
    }
    totals[0] = sum.x;
    totals[1] = sum.y;
  }
  if (e >= p.images * 2u * p.k) { return; }
  let j = e % p.k;
  let s = (e / p.k) % 2u;
  let b = e / (2u * p.k);
  let n = limits(b);
  let idx = indices[e];
  if (idx < 0 || j >= select(n.y, n.x, s == 0u)) { return; }
  let at = b * p.len + u32(idx) - s * p.len;
  if (s == 0u) { positive[at] = 1u; } else { negative[at] = 1u; }
}
`;
