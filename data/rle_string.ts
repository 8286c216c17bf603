/**
 * The compressed string form of COCO run-length counts, byte-for-byte as pycocotools' maskApi.c
 * `rleToString` / `rleFrString` write and read it.
 *
 * Each count is first replaced by its difference to the count two places before (from the fourth count
 * on), then written like LEB128 but with 5 payload bits per character: bit 5 (0x20) says "more characters
 * follow", bit 4 of the last character is the sign, and 48 is added so every character lies in '0'..'o'.
 *
 * Decision: counts are kept in `Uint32Array`s (maskApi's `uint`), and stored values wrap modulo 2^32 as in C.
 * Arithmetic on the differences uses JS numbers (exact up to 2^53), not 32-bit ints, so negative
 * differences and counts near 2^32 shift correctly. maskApi's decoder shifts a C `int`, which overflows on
 * a 7-character count (|difference| ≥ 2^29); images that large are out of scope here, and this decoder
 * gives the mathematically intended value instead.
 * @module
 */
import { DataError } from "./errors.ts";

/**
 * Writes run-length counts as COCO's compressed string (maskApi `rleToString`).
 *
 * @example
 * ```ts
 * import { rleCountsToString } from "./rle_string.ts";
 * console.log(rleCountsToString([0, 5, 20])); // "05d0"
 * ```
 */
export function rleCountsToString(counts: ArrayLike<number>): string {
  const m = counts.length;
  const chars: number[] = [];
  for (let i = 0; i < m; i++) {
    let x = counts[i];
    if (i > 2) x -= counts[i - 2];
    let more = true;
    while (more) {
      let c = x & 0x1f; // low 5 bits; `&` keeps them right for negative x too
      x = Math.floor(x / 32); // arithmetic shift right by 5 on a 64-bit long
      more = (c & 0x10) !== 0 ? x !== -1 : x !== 0;
      if (more) c |= 0x20;
      chars.push(c + 48);
    }
  }
  let out = "";
  const CHUNK = 8192;
  for (let i = 0; i < chars.length; i += CHUNK) {
    out += String.fromCharCode.apply(null, chars.slice(i, i + CHUNK));
  }
  return out;
}

/**
 * Reads COCO's compressed count string (maskApi `rleFrString`) into run-length counts.
 * Throws an `Error` naming `what` (the argument being decoded) on a character outside '0'..'o' or a string
 * that ends inside a count.
 *
 * @example
 * ```ts
 * import { rleCountsFromString } from "./rle_string.ts";
 * console.log(rleCountsFromString("05d0")); // Uint32Array [0, 5, 20]
 * ```
 */
export function rleCountsFromString(s: string, what = "counts"): Uint32Array {
  return rleCountsFromStringShared(s, what).slice();
}

/**
 * Like `rleCountsFromString`, but returns a view of a buffer shared by all calls, valid only until the
 * next call: for bulk decoders that copy the counts into their own storage without one allocation each.
 *
 * @example
 * ```ts
 * import { rleCountsFromStringShared } from "./rle_string.ts";
 * const pool = new Uint32Array(8);
 * const counts = rleCountsFromStringShared("05d0");
 * pool.set(counts, 0); // copy before the next call
 * console.log(pool.subarray(0, counts.length)); // Uint32Array [0, 5, 20]
 * ```
 */
export function rleCountsFromStringShared(s: string, what = "counts"): Uint32Array {
  const n = s.length;
  // Every count takes at least one character, so n bounds the number of counts.
  if (scratch.length < n) scratch = new Uint32Array(Math.max(n, 2 * scratch.length));
  const cnts = scratch;
  let m = 0;
  let p = 0;
  while (p < n) {
    let c = s.charCodeAt(p++) - 48;
    if (c < 0 || c > 63) badChar(s, p - 1, what);
    let x = c & 0x1f;
    let k = 1;
    while ((c & 0x20) !== 0) {
      if (p >= n) {
        throw new DataError(
          "bad-rle",
          `${what}: compressed RLE string ends inside a count at position ${p}`,
          { file: "" },
        );
      }
      c = s.charCodeAt(p++) - 48;
      if (c < 0 || c > 63) badChar(s, p - 1, what);
      // Up to 6 characters (30 bits) fit a 32-bit int shift; longer counts take the exact float path.
      if (k < 6) x |= (c & 0x1f) << (5 * k);
      else x += (c & 0x1f) * 2 ** (5 * k);
      k++;
    }
    if ((c & 0x10) !== 0) x -= k <= 6 ? 1 << (5 * k) : 2 ** (5 * k); // sign-extend from the last bit 4
    if (m > 2) x += cnts[m - 2];
    cnts[m++] = x; // Uint32Array stores wrap modulo 2^32, as C's (uint) cast
  }
  return cnts.subarray(0, m);
}

function badChar(s: string, p: number, what: string): never {
  throw new DataError(
    "bad-rle",
    `${what}: character ${JSON.stringify(s[p])} at position ${p} is not in '0'..'o'`,
    { file: "" },
  );
}

/** Reused decode buffer (decoding is synchronous, so one buffer serves every call). */
let scratch = new Uint32Array(1024);
