/**
 * Deterministic weights rebuilt from a tensor's name alone, bit-for-bit equal to
 * `tools/reference/model_reference.py` `deterministic_state_dict`, so the full-size R50-FPN can be compared
 * with torchvision without committing its weights.
 * @module
 */

function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

function lowbias32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** f32((2u − 1)·bound) with u = lowbias32(i·0x9E3779B1 + fnv1a(name)) / 2^32, for i < size. */
export function deterministicUniform(name: string, size: number, bound: number): Float32Array {
  const seed = fnv1a32(name);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    const u = lowbias32((Math.imul(i, 0x9e3779b1) + seed) >>> 0) / 4294967296;
    out[i] = (2 * u - 1) * bound;
  }
  return out;
}

/** The value of state-dict tensor `name` of `shape` under the deterministic rule. */
export function deterministicTensor(name: string, shape: readonly number[]): Float32Array {
  const size = shape.reduce((p, d) => p * d, 1);
  if (name.endsWith("running_var")) {
    // Same float32 steps as torch: (v + 1) rounded, then · 0.25 (exact), then 1 + … rounded.
    return deterministicUniform(name, size, 1).map((v) => 1 + Math.fround(v + 1) * 0.25);
  }
  if (name.endsWith("running_mean") || name.endsWith(".bias")) return deterministicUniform(name, size, 0.1);
  if (shape.length === 1) return deterministicUniform(name, size, 0.1).map((v) => 1 + v);
  const fanIn = shape.slice(1).reduce((p, d) => p * d, 1);
  const gain = name.includes(".conv3.") || name.includes("downsample") ? 0.25 : 1;
  return deterministicUniform(name, size, gain * Math.sqrt(6 / fanIn));
}
