/**
 * Small seeded pseudo-random number generators (splitmix32 seeding, mulberry32 stream) for reproducible
 * data generation, shuffling and augmentation.
 * @module
 */

/**
 * Mixes a 32-bit integer (splitmix32 finaliser); used to derive independent seeds.
 * @example
 * ```ts
 * const s = mix32(42);
 * ```
 */
export function mix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * Derives a seed from a base seed and a list of integers (e.g. epoch and item index).
 * @example
 * ```ts
 * const itemSeed = deriveSeed(1234, 3, 17); // seed for epoch 3, item 17
 * ```
 */
export function deriveSeed(seed: number, ...parts: number[]): number {
  let h = mix32(seed >>> 0);
  for (const p of parts) h = mix32((h ^ mix32(p >>> 0)) >>> 0);
  return h;
}

/**
 * A mulberry32 generator: a fast 32-bit PRNG with uniform floats and integers.
 * @example
 * ```ts
 * const rng = new Rng(7);
 * const u = rng.next(); // in [0, 1)
 * const k = rng.int(1, 4); // integer in [1, 4]
 * ```
 */
export class Rng {
  #state: number;

  constructor(seed: number) {
    this.#state = mix32(seed >>> 0);
  }

  /** Next 32-bit unsigned integer. */
  nextUint32(): number {
    this.#state = (this.#state + 0x6d2b79f5) | 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform float in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform float in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Uniform integer in [lo, hi] (both inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** Shuffles `array` in place (Fisher–Yates) and returns it. */
  shuffle<T>(array: T[]): T[] {
    for (let i = array.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const t = array[i];
      array[i] = array[j];
      array[j] = t;
    }
    return array;
  }
}
