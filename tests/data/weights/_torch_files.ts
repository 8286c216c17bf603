/**
 * Builders of hand-made (hostile) torch checkpoints for the tests: a protocol-2 pickle of a state_dict
 * written opcode by opcode, as `torch.save` writes it, with any offset/shape/stride/storage size, and a
 * zip writer whose entries may be stored or deflated and may declare a size other than their contents.
 * @module
 */
import { crc32 } from "../../../data/weights/torch_zip.ts";

const enc = new TextEncoder();

/** Opcode-level pickle writer (protocol 2). */
export class PickleWriter {
  #parts: number[] = [0x80, 2];
  /** Appends raw opcode bytes. */
  op(...bytes: number[]): this {
    for (const b of bytes) this.#parts.push(b);
    return this;
  }
  /** BINUNICODE. */
  str(s: string): this {
    const b = enc.encode(s);
    this.op(0x58, ...u32(b.length));
    for (const x of b) this.#parts.push(x);
    return this;
  }
  /** BININT (signed 32-bit). */
  int(n: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, n, true);
    return this.op(0x4a, ...b);
  }
  /** GLOBAL module.name. */
  global(module: string, name: string): this {
    this.op(0x63);
    for (const x of enc.encode(`${module}\n${name}\n`)) this.#parts.push(x);
    return this;
  }
  /** A tuple of ints. */
  ints(values: readonly number[]): this {
    this.op(0x28);
    for (const v of values) this.int(v);
    return this.op(0x74);
  }
  /** The bytes, ending with STOP. */
  bytes(): Uint8Array {
    return new Uint8Array([...this.#parts, 0x2e]);
  }
}

function u32(n: number): number[] {
  return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255];
}

/** One tensor of a hand-made state_dict. */
export interface TensorSpec {
  name: string;
  storageKey: string;
  /** Storage class, e.g. "FloatStorage". */
  storageType?: string;
  /** Declared storage size in elements (any int, −1 included). */
  storageSize: number;
  offset: number;
  shape: number[];
  stride: number[];
}

/** data.pkl of a state_dict `{name: _rebuild_tensor_v2(storage, offset, shape, stride, False, OrderedDict())}`. */
export function stateDictPickle(tensors: readonly TensorSpec[]): Uint8Array {
  const w = new PickleWriter().op(0x7d); // EMPTY_DICT
  for (const t of tensors) {
    w.str(t.name).global("torch._utils", "_rebuild_tensor_v2").op(0x28); // MARK of the argument tuple
    w.op(0x28).str("storage").global("torch", t.storageType ?? "FloatStorage").str(t.storageKey).str("cpu");
    w.int(t.storageSize).op(0x74, 0x51); // TUPLE, BINPERSID
    w.int(t.offset).ints(t.shape).ints(t.stride).op(0x89); // NEWFALSE (requires_grad)
    w.global("collections", "OrderedDict").op(0x29, 0x52); // OrderedDict()
    w.op(0x74, 0x52, 0x73); // TUPLE, REDUCE, SETITEM
  }
  return w.bytes();
}

/** One zip entry: `data` stored, or deflated (`deflated` given: raw deflate bytes of `data`'s size). */
export interface ZipSpec {
  name: string;
  data?: Uint8Array;
  /** Raw deflate stream to store instead of `data` (method 8). */
  deflated?: Uint8Array;
  /** Uncompressed size to declare (default: `data`'s length). */
  declaredSize?: number;
  /** CRC-32 to declare (default: of `data`). */
  crc?: number;
}

/** A zip archive of `entries` (no zip64; sizes < 4 GiB). */
export function zipArchive(entries: readonly ZipSpec[]): Uint8Array {
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = enc.encode(e.name);
    const body = e.deflated ?? e.data ?? new Uint8Array();
    const size = e.declaredSize ?? e.data?.length ?? 0;
    const crc = e.crc ?? crc32(e.data ?? new Uint8Array());
    const method = e.deflated ? 8 : 0;
    const local = new Uint8Array(30 + name.length + body.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true);
    lv.setUint16(8, method, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, body.length, true);
    lv.setUint32(22, size, true);
    lv.setUint16(26, name.length, true);
    local.set(name, 30);
    local.set(body, 30 + name.length);
    const central = new Uint8Array(46 + name.length);
    const cv = new DataView(central.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint16(10, method, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, body.length, true);
    cv.setUint32(24, size, true);
    cv.setUint16(28, name.length, true);
    cv.setUint32(42, offset, true);
    central.set(name, 46);
    locals.push(local);
    centrals.push(central);
    offset += local.length;
  }
  const cdSize = centrals.reduce((n, c) => n + c.length, 0);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, entries.length, true);
  ev.setUint16(10, entries.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  const out = new Uint8Array(offset + cdSize + 22);
  let at = 0;
  for (const part of [...locals, ...centrals, end]) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** A torch zip checkpoint of `data.pkl` plus stored storages `data/<key>` (prefix `archive/`). */
export function torchZip(pickle: Uint8Array, storages: Record<string, Uint8Array>, extra: ZipSpec[] = []) {
  return zipArchive([
    { name: "archive/data.pkl", data: pickle },
    ...Object.entries(storages).map(([key, data]) => ({ name: `archive/data/${key}`, data })),
    ...extra,
  ]);
}

/** Raw deflate of `size` zero bytes, streamed (≈ size / 1000 bytes; ~2 s per GiB). */
export async function deflatedZeros(size: number): Promise<Uint8Array> {
  const chunk = new Uint8Array(1 << 20);
  const stream = new CompressionStream("deflate-raw");
  const writer = stream.writable.getWriter();
  const out = new Response(stream.readable).arrayBuffer();
  for (let at = 0; at < size; at += chunk.length) {
    await writer.write(chunk.subarray(0, Math.min(chunk.length, size - at)));
  }
  await writer.close();
  return new Uint8Array(await out);
}

/** Little-endian f32 bytes of `values`. */
export function f32Bytes(values: readonly number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}
