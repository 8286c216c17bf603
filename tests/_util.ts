/**
 * Test helpers: a seeded PRNG for non-zero random data and tensor comparisons with stated tolerances.
 * @module
 */
import assert from "node:assert/strict";

/** mulberry32: a small seeded PRNG returning floats in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` floats uniform in [lo, hi), none exactly zero. */
export function randomFloats(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const next = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let v = lo + (hi - lo) * next();
    if (v === 0) v = 1e-3;
    out[i] = v;
  }
  return out;
}

/** `n` integers uniform in [lo, hi). */
export function randomInts(n: number, seed: number, lo: number, hi: number): Int32Array {
  const next = rng(seed);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + Math.floor((hi - lo) * next());
  return out;
}

/** max |actual − expected| / max |expected| (the issues' relative error). */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length, "length mismatch");
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= maxDiff)) maxDiff = Number.isNaN(d) ? Infinity : d;
    maxRef = Math.max(maxRef, Math.abs(expected[i]));
  }
  return maxRef === 0 ? maxDiff : maxDiff / maxRef;
}

/** Asserts relative error ≤ `tolerance`, reporting the error in the message. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tolerance: number,
  what = "tensor",
): void {
  const error = relativeError(actual, expected);
  assert.ok(error <= tolerance, `${what}: relative error ${error.toExponential(3)} > ${tolerance}`);
}
