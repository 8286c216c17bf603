/**
 * CRC-32C (Castagnoli) and TensorFlow's masked CRC as used by TFRecord framing.
 * @module
 */

const TABLE = /* @__PURE__ */ (() => {
  const table = new Uint32Array(256 * 4);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c >>> 0;
  }
  // Slicing-by-4 tables.
  for (let n = 0; n < 256; n++) {
    for (let s = 1; s < 4; s++) {
      const prev = table[(s - 1) * 256 + n];
      table[s * 256 + n] = (table[prev & 0xff] ^ (prev >>> 8)) >>> 0;
    }
  }
  return table;
})();

/**
 * CRC-32C (Castagnoli polynomial 0x1EDC6F41, reflected) of `bytes`.
 * @example
 * ```ts
 * crc32c(new TextEncoder().encode("123456789")).toString(16); // "e3069283"
 * ```
 */
export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  let i = 0;
  const n = bytes.length;
  for (; i + 4 <= n; i += 4) {
    crc ^= bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    crc = TABLE[768 + (crc & 0xff)] ^ TABLE[512 + ((crc >>> 8) & 0xff)] ^ TABLE[256 + ((crc >>> 16) & 0xff)] ^
      TABLE[crc >>> 24];
  }
  for (; i < n; i++) crc = TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * TensorFlow's masked CRC: `((crc >>> 15) | (crc << 17)) + 0xa282ead8` (mod 2^32) of the CRC-32C.
 * @example
 * ```ts
 * const header = new Uint8Array(8);
 * const masked = maskedCrc32c(header);
 * ```
 */
export function maskedCrc32c(bytes: Uint8Array): number {
  const crc = crc32c(bytes);
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}
