/**
 * A minimal protocol-buffers wire-format reader and writer (varints, 32-bit, 64-bit and length-delimited
 * fields), enough for `tf.train.Example`.
 * @module
 */

/** Protobuf wire types. */
export const WireType = { varint: 0, fixed64: 1, lengthDelimited: 2, fixed32: 5 } as const;

/**
 * Sequential reader over protobuf bytes. Throws `RangeError` on truncated or malformed input.
 * @example
 * ```ts
 * const r = new ProtoReader(new Uint8Array([0x08, 0x96, 0x01]));
 * const { field, wireType } = r.tag(); // field 1, varint
 * r.varint(); // 150
 * ```
 */
export class ProtoReader {
  /** The bytes being read. */
  readonly bytes: Uint8Array;
  /** Current read position. */
  pos: number;
  /** End position (exclusive). */
  readonly end: number;
  #view: DataView;

  constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
    this.bytes = bytes;
    this.pos = start;
    this.end = end;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** True when all bytes were read. */
  get done(): boolean {
    return this.pos >= this.end;
  }

  /** Reads a field tag. */
  tag(): { field: number; wireType: number } {
    const t = this.varint();
    const field = Math.floor(t / 8);
    if (field === 0) throw new RangeError(`protobuf: field number 0 at byte ${this.pos}`);
    return { field, wireType: t % 8 };
  }

  /** Reads an unsigned varint as a number (exact up to 2^53). */
  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new RangeError("protobuf: truncated varint");
      const b = this.bytes[this.pos++];
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
    throw new RangeError("protobuf: varint longer than 10 bytes");
  }

  /** Reads a varint as a signed 64-bit integer (two's complement), converted to a number. */
  int64(): number {
    const start = this.pos;
    const v = this.varint();
    if (v < Number.MAX_SAFE_INTEGER) return v;
    // Large or negative: redo exactly with BigInt.
    let big = 0n;
    let shift = 0n;
    for (let p = start; p < this.pos; p++) {
      big |= BigInt(this.bytes[p] & 0x7f) << shift;
      shift += 7n;
    }
    return Number(BigInt.asIntN(64, big));
  }

  /** Reads a little-endian float32. */
  float32(): number {
    if (this.pos + 4 > this.end) throw new RangeError("protobuf: truncated fixed32");
    const v = this.#view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  /** Reads a length-delimited field's bytes (a view, not a copy). */
  bytesField(): Uint8Array {
    const len = this.varint();
    if (this.pos + len > this.end) throw new RangeError("protobuf: truncated length-delimited field");
    const out = this.bytes.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  /** Skips a field of the given wire type. */
  skip(wireType: number): void {
    switch (wireType) {
      case WireType.varint:
        this.varint();
        return;
      case WireType.fixed64:
        this.pos += 8;
        break;
      case WireType.lengthDelimited:
        this.bytesField();
        return;
      case WireType.fixed32:
        this.pos += 4;
        break;
      default:
        throw new RangeError(`protobuf: unsupported wire type ${wireType}`);
    }
    if (this.pos > this.end) throw new RangeError("protobuf: truncated field");
  }
}

/**
 * Growable protobuf writer.
 * @example
 * ```ts
 * const w = new ProtoWriter();
 * w.tag(1, WireType.varint).varint(150);
 * w.finish(); // Uint8Array [0x08, 0x96, 0x01]
 * ```
 */
export class ProtoWriter {
  #buf = new Uint8Array(64);
  #len = 0;

  #reserve(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    let cap = this.#buf.length * 2;
    while (cap < this.#len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }

  /** Writes a field tag. */
  tag(field: number, wireType: number): this {
    return this.varint(field * 8 + wireType);
  }

  /** Writes a non-negative integer as a varint. */
  varint(value: number): this {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`protobuf: bad varint ${value}`);
    this.#reserve(10);
    while (value >= 0x80) {
      this.#buf[this.#len++] = (value % 128) | 0x80;
      value = Math.floor(value / 128);
    }
    this.#buf[this.#len++] = value;
    return this;
  }

  /** Writes a signed 64-bit integer as a varint (negative values take 10 bytes). */
  int64(value: number): this {
    if (value >= 0) return this.varint(value);
    let big = BigInt.asUintN(64, BigInt(value));
    this.#reserve(10);
    while (big >= 0x80n) {
      this.#buf[this.#len++] = Number(big & 0x7fn) | 0x80;
      big >>= 7n;
    }
    this.#buf[this.#len++] = Number(big);
    return this;
  }

  /** Writes a little-endian float32. */
  float32(value: number): this {
    this.#reserve(4);
    new DataView(this.#buf.buffer).setFloat32(this.#len, value, true);
    this.#len += 4;
    return this;
  }

  /** Writes length-prefixed bytes. */
  bytes(data: Uint8Array): this {
    this.varint(data.length);
    this.#reserve(data.length);
    this.#buf.set(data, this.#len);
    this.#len += data.length;
    return this;
  }

  /** Returns a copy of the written bytes. */
  finish(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}
