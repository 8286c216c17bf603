/**
 * Helpers of the model/weights tests: paths and JSON of `tests/fixtures/model/` (written by
 * `tools/reference/make_weights_fixtures.py` with torch 1.13 / torchvision 0.14) and the per-tensor
 * checksum comparison.
 * @module
 */
import assert from "node:assert/strict";
import type { WeightTensor } from "../../model/state_dict.ts";

/** URL of a file in tests/fixtures/model/. */
export function fixtureUrl(name: string): URL {
  return new URL(`../fixtures/model/${name}`, import.meta.url);
}

/** The bytes of a fixture file. */
export function fixtureBytes(name: string): Uint8Array<ArrayBuffer> {
  return Deno.readFileSync(fixtureUrl(name));
}

/** A parsed JSON fixture. */
export function fixtureJson<T = Record<string, unknown>>(name: string): T {
  return JSON.parse(Deno.readTextFileSync(fixtureUrl(name))) as T;
}

/** What torch computed for one tensor it loaded back from a fixture file. */
export interface Checksum {
  dtype: string;
  shape: number[];
  sum: number;
  abs_sum: number;
  sum_sq: number;
  samples: [number, number][];
}

/** `checksums.json`: file name → tensor name (as stored) → checksum. */
export type Checksums = Record<string, Record<string, Checksum>>;

/**
 * Asserts a loaded tensor matches torch's checksum: same shape, float64 sum within 1e-6 of the absolute
 * sum, sum of squares within 1e-6 relative, and the sampled elements exactly (f16/bf16/f32 widen exactly;
 * f64 and i64 are compared after rounding to f32, as we store f32).
 */
export function assertChecksum(name: string, t: WeightTensor, c: Checksum): void {
  assert.deepEqual(t.shape, c.shape, `${name}: shape`);
  assert.equal(t.data.length, c.shape.reduce((p, d) => p * d, 1), `${name}: length`);
  let sum = 0;
  let sumSq = 0;
  for (const x of t.data) {
    sum += x;
    sumSq += x * x;
  }
  const exact = c.dtype === "float32" || c.dtype === "float16" || c.dtype === "bfloat16";
  const tol = exact ? 1e-6 : 1e-6 + 2 ** -23; // f64 / i64 → f32 rounding
  assert.ok(c.abs_sum > 0, `${name}: fixture data is all zero`);
  assert.ok(Math.abs(sum - c.sum) <= tol * c.abs_sum, `${name}: sum ${sum} vs torch ${c.sum}`);
  assert.ok(
    Math.abs(sumSq - c.sum_sq) <= tol * c.sum_sq,
    `${name}: sum of squares ${sumSq} vs torch ${c.sum_sq}`,
  );
  for (const [i, v] of c.samples) {
    assert.equal(t.data[i], Math.fround(v), `${name}[${i}]: ${t.data[i]} vs torch ${v}`);
  }
}
