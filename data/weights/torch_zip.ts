/**
 * A minimal read-only zip archive reader for torch checkpoints: finds the end-of-central-directory record
 * (zip64 included), lists the central directory and returns entries that are stored or deflated
 * (inflated with `DecompressionStream("deflate-raw")`), verifying each entry's CRC-32.
 *
 * Zip bombs: the caller gives each read the most bytes the entry may hold ({@link ZipReadOptions}); an
 * entry declaring more, or a deflated entry inflating more than {@link DEFAULT_MAX_INFLATE_RATIO} times
 * its compressed size, is refused before inflating, and inflating stops at the first chunk past the
 * declared size (the central directory may lie). Memory stays at the declared size.
 * @module
 */
import { WeightsFormatError } from "./errors.ts";

/** One central-directory entry. */
export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflated. */
  method: number;
  compressedSize: number;
  size: number;
  crc32: number;
  localHeaderOffset: number;
}

/**
 * Default cap on how many times its compressed size a deflated entry may inflate to (entries above 1 MiB).
 * `torch.save` stores entries uncompressed; re-zipped real weights deflate about 1.1:1 and deflate itself
 * cannot exceed ~1032:1, so 100:1 only stops near-constant data: bombs.
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_INFLATE_RATIO } from "./torch_zip.ts";
 * console.log(DEFAULT_MAX_INFLATE_RATIO); // 100
 * ```
 */
export const DEFAULT_MAX_INFLATE_RATIO = 100;

/** Options of {@link ZipArchive.read}. */
export interface ZipReadOptions {
  /** The most bytes the entry may hold (e.g. its tensor storage's declared size); default: no cap. */
  maxSize?: number;
  /** Cap on inflated ÷ compressed size for deflated entries over 1 MiB (default {@link DEFAULT_MAX_INFLATE_RATIO}). */
  maxInflateRatio?: number;
  /** Says how the caller's user raises the caps, appended to the error. */
  howToRaise?: string;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/**
 * CRC-32 (the zip / PNG polynomial) of `bytes`.
 *
 * @example
 * ```ts
 * import { crc32 } from "./torch_zip.ts";
 * console.log(crc32(new TextEncoder().encode("123456789")).toString(16)); // cbf43926
 * ```
 */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * Whether `bytes` starts with a zip local-file-header signature (`PK\x03\x04`).
 *
 * @example
 * ```ts
 * import { isZip } from "./torch_zip.ts";
 * console.log(isZip(new Uint8Array([0x50, 0x4b, 3, 4]))); // true
 * ```
 */
export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 3 && bytes[3] === 4;
}

/**
 * A zip archive held in memory.
 *
 * @example
 * ```ts
 * import { ZipArchive } from "./torch_zip.ts";
 * const bytes = await Deno.readFile("tests/fixtures/model/small_subset.pth");
 * const zip = ZipArchive.open(bytes, "small_subset.pth");
 * console.log([...zip.entries.keys()].some((n) => n.endsWith("/data.pkl"))); // true
 * ```
 */
export class ZipArchive {
  /** Entries by name, in central-directory order. */
  readonly entries: Map<string, ZipEntry>;
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #file: string;

  private constructor(bytes: Uint8Array, file: string, entries: Map<string, ZipEntry>) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#file = file;
    this.entries = entries;
  }

  /** Parses the central directory of `bytes`; `file` names the archive in errors. */
  static open(bytes: Uint8Array, file = "<bytes>"): ZipArchive {
    const fail = (detail: string): never => {
      throw new WeightsFormatError(file, `invalid zip archive: ${detail}`);
    };
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let eocd = -1;
    for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65535); i--) {
      if (v.getUint32(i, true) === EOCD) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) fail("no end-of-central-directory record (the file is truncated or not a zip)");
    let count = v.getUint16(eocd + 10, true);
    let cdSize = v.getUint32(eocd + 12, true);
    let cdOffset = v.getUint32(eocd + 16, true);
    if (eocd >= 20 && v.getUint32(eocd - 20, true) === ZIP64_LOCATOR) {
      const at = Number(v.getBigUint64(eocd - 20 + 8, true));
      if (at + 56 > bytes.length || v.getUint32(at, true) !== ZIP64_EOCD) fail("bad zip64 end record");
      count = Number(v.getBigUint64(at + 32, true));
      cdSize = Number(v.getBigUint64(at + 40, true));
      cdOffset = Number(v.getBigUint64(at + 48, true));
    }
    if (cdOffset + cdSize > bytes.length) fail("central directory lies past the end (truncated file)");
    const entries = new Map<string, ZipEntry>();
    let p = cdOffset;
    for (let n = 0; n < count; n++) {
      if (p + 46 > bytes.length || v.getUint32(p, true) !== CENTRAL) fail(`bad central directory entry ${n}`);
      if (v.getUint16(p + 8, true) & 1) fail("encrypted entries are not supported");
      const nameLen = v.getUint16(p + 28, true);
      const extraLen = v.getUint16(p + 30, true);
      const commentLen = v.getUint16(p + 32, true);
      const name = new TextDecoder().decode(bytes.subarray(p + 46, p + 46 + nameLen));
      const entry: ZipEntry = {
        name,
        method: v.getUint16(p + 10, true),
        crc32: v.getUint32(p + 16, true),
        compressedSize: v.getUint32(p + 20, true),
        size: v.getUint32(p + 24, true),
        localHeaderOffset: v.getUint32(p + 42, true),
      };
      readZip64Extra(v, p + 46 + nameLen, extraLen, entry);
      entries.set(name, entry);
      p += 46 + nameLen + extraLen + commentLen;
    }
    return new ZipArchive(bytes, file, entries);
  }

  /**
   * The uncompressed bytes of entry `name` (a view into the archive when stored), CRC-checked, within the
   * size caps of `options`.
   */
  async read(name: string, options: ZipReadOptions = {}): Promise<Uint8Array> {
    const e = this.entries.get(name);
    const fail = (detail: string): never => {
      throw new WeightsFormatError(this.#file, `zip entry ${name}: ${detail}`);
    };
    if (!e) return fail("not in the archive");
    const v = this.#view;
    const h = e.localHeaderOffset;
    if (h + 30 > this.#bytes.length || v.getUint32(h, true) !== LOCAL) fail("bad local header");
    const start = h + 30 + v.getUint16(h + 26, true) + v.getUint16(h + 28, true);
    const end = start + e.compressedSize;
    if (end > this.#bytes.length) fail(`data ends at byte ${end} past the file end (truncated)`);
    const raise = options.howToRaise ? `; ${options.howToRaise}` : "";
    if (options.maxSize !== undefined && e.size > options.maxSize) {
      fail(`declares ${e.size} bytes, more than the ${options.maxSize} it may hold${raise}`);
    }
    const raw = this.#bytes.subarray(start, end);
    let data: Uint8Array;
    if (e.method === 0) {
      if (e.compressedSize !== e.size) fail(`stored entry of ${e.compressedSize} bytes declares ${e.size}`);
      data = raw;
    } else if (e.method === 8) {
      const ratio = options.maxInflateRatio ?? DEFAULT_MAX_INFLATE_RATIO;
      if (e.size > 1 << 20 && e.size > ratio * e.compressedSize) {
        fail(
          `would inflate ${e.compressedSize} bytes to ${e.size}, more than the limit of ${ratio}× ` +
            `(a zip bomb? torch.save never compresses)${raise}`,
        );
      }
      data = await inflateAtMost(raw, e.size, fail);
    } else return fail(`unsupported compression method ${e.method} (only stored and deflated)`);
    if (crc32(data) !== e.crc32) fail("CRC-32 mismatch (corrupt file)");
    return data;
  }
}

/** Inflates raw deflate data that must come to exactly `size` bytes; stops as soon as it exceeds it. */
async function inflateAtMost(raw: Uint8Array, size: number, fail: (detail: string) => never) {
  const out = new Uint8Array(size);
  // fed in 16 KiB pieces on demand: deflate expands at most ~1032:1, so one step yields ≤ ~17 MB and a
  // lying entry is stopped after a few MiB (a whole-buffer source would be inflated in one go)
  let fed = 0;
  const source = new ReadableStream<BufferSource>({
    pull(controller) {
      if (fed >= raw.length) return controller.close();
      controller.enqueue(raw.slice(fed, fed + 16384));
      fed += 16384;
    },
  }, { highWaterMark: 0 });
  const reader = source.pipeThrough(new DecompressionStream("deflate-raw")).getReader();
  let at = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (at + value.length > size) {
        await reader.cancel().catch(() => {});
        fail(`inflates past its declared ${size} bytes (corrupt or a zip bomb); stopped there`);
      }
      out.set(value, at);
      at += value.length;
    }
  } catch (err) {
    if (err instanceof WeightsFormatError) throw err;
    fail(`corrupt deflate data (${(err as Error).message})`);
  }
  if (at !== size) fail(`inflated to ${at} bytes, expected ${size}`);
  return out;
}

function readZip64Extra(v: DataView, at: number, length: number, entry: ZipEntry): void {
  const end = Math.min(at + length, v.byteLength);
  while (at + 4 <= end) {
    const id = v.getUint16(at, true);
    const size = v.getUint16(at + 2, true);
    if (at + 4 + size > end) break; // a malformed extra field: ignore the rest
    if (id === 0x0001) {
      let q = at + 4;
      const next = () => {
        if (q + 8 > at + 4 + size) return 0xffffffff; // field too short: the size stays "unknown"
        const value = Number(v.getBigUint64(q, true));
        q += 8;
        return value;
      };
      if (entry.size === 0xffffffff) entry.size = next();
      if (entry.compressedSize === 0xffffffff) entry.compressedSize = next();
      if (entry.localHeaderOffset === 0xffffffff) entry.localHeaderOffset = next();
    }
    at += 4 + size;
  }
}
