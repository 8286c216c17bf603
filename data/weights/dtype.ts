/**
 * Element types of weight files and their conversion to Float32Array: f16 and bf16 are widened exactly,
 * f64 and integers are rounded to the nearest f32. All formats we read store little-endian bytes. The
 * record every reader returns, `WeightTensor`, is model/'s (`model/state_dict.ts`).
 * @module
 */
import type { WeightDType } from "../../model/state_dict.ts";

/**
 * Number of elements of a shape (1 for a scalar `[]`).
 *
 * @example
 * ```ts
 * import { numel } from "./dtype.ts";
 * console.log(numel([2, 3, 4]), numel([])); // 24 1
 * ```
 */
export function numel(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}

/**
 * Bytes per element of each dtype.
 *
 * @example
 * ```ts
 * import { DTYPE_SIZE } from "./dtype.ts";
 * console.log(DTYPE_SIZE.BF16); // 2
 * ```
 */
export const DTYPE_SIZE: Readonly<Record<WeightDType, number>> = Object.freeze({
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
});

/**
 * Whether `name` is a dtype this library reads.
 *
 * @example
 * ```ts
 * import { isWeightDType } from "./dtype.ts";
 * console.log(isWeightDType("F16"), isWeightDType("F8_E4M3")); // true false
 * ```
 */
export function isWeightDType(name: string): name is WeightDType {
  return Object.hasOwn(DTYPE_SIZE, name);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * IEEE half (binary16) bits to a number (exact: every half is representable in f32).
 *
 * @example
 * ```ts
 * import { halfToFloat } from "./dtype.ts";
 * console.log(halfToFloat(0x3c00), halfToFloat(0xc000), halfToFloat(0x0001)); // 1 -2 5.960464477539063e-8
 * ```
 */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/**
 * Converts `count` little-endian elements of `dtype` starting at `bytes[0]` to a new Float32Array.
 * `bytes` may start at any alignment; it must hold at least `count * DTYPE_SIZE[dtype]` bytes.
 *
 * @example
 * ```ts
 * import { toFloat32 } from "./dtype.ts";
 * console.log(toFloat32(new Uint8Array([0x00, 0x3c, 0x80, 0x3f]), "F16", 2)); // Float32Array [1, 1.875]
 * ```
 */
export function toFloat32(bytes: Uint8Array, dtype: WeightDType, count: number): Float32Array {
  const size = DTYPE_SIZE[dtype];
  if (bytes.byteLength < count * size) {
    throw new RangeError(`${count} ${dtype} elements need ${count * size} bytes, got ${bytes.byteLength}`);
  }
  // slice() copies into a fresh, aligned buffer.
  const own = bytes.slice(0, count * size);
  if (dtype === "F32" && LITTLE_ENDIAN) return new Float32Array(own.buffer, 0, count);
  const view = new DataView(own.buffer);
  const out = new Float32Array(count);
  switch (dtype) {
    case "F32":
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
      break;
    case "F64":
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, true);
      break;
    case "F16":
      for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      break;
    case "BF16": {
      // bf16 is the top half of an f32: native u32 writes and f32 reads share one byte order.
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) bits[i] = view.getUint16(2 * i, true) << 16;
      break;
    }
    case "I64":
      for (let i = 0; i < count; i++) out[i] = Number(view.getBigInt64(8 * i, true));
      break;
    case "I32":
      for (let i = 0; i < count; i++) out[i] = view.getInt32(4 * i, true);
      break;
    case "I16":
      for (let i = 0; i < count; i++) out[i] = view.getInt16(2 * i, true);
      break;
    case "I8":
      for (let i = 0; i < count; i++) out[i] = view.getInt8(i);
      break;
    case "U8":
    case "BOOL":
      for (let i = 0; i < count; i++) out[i] = own[i];
      break;
  }
  return out;
}
