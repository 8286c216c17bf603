/**
 * Integrity checksums of safetensors files written by this library (`model.safetensors`, training
 * checkpoints): XXH32 (xxHash, seed 0) of each tensor's raw bytes and of the other metadata entries,
 * stored as one JSON string under the `__metadata__` key {@link CHECKSUM_KEY}.
 *
 * Decisions: XXH32 rather than CRC-32C because it reads 32-bit words and runs 5–8× faster in pure
 * TypeScript (0.6–1.4 GB/s vs 130–185 MB/s on a shared Zen 3 core), so checking a 0.5 GB checkpoint costs
 * about half a second; any single changed 32-bit word always changes the hash (each round is a bijection
 * of the accumulator), and it is the standard xxHash, so `xxhsum -H0` can check a tensor's bytes outside this
 * library. Per-tensor hashes let a mismatch name the damaged tensors. Files without the key (written before
 * checksums existed, or by other tools) load unverified.
 * @module
 */
import { WeightsFormatError } from "./errors.ts";

/** The `__metadata__` key holding the checksums: `{"algorithm":"xxh32","tensors":{…},"metadata":"…"}`. */
export const CHECKSUM_KEY = "maskrcnn_checksum";

const P1 = 0x9e3779b1, P2 = 0x85ebca77, P3 = 0xc2b2ae3d, P4 = 0x27d4eb2f, P5 = 0x165667b1;

const rotl = (x: number, r: number) => (x << r) | (x >>> (32 - r));
const round = (acc: number, lane: number) => Math.imul(rotl((acc + Math.imul(lane, P2)) | 0, 13), P1);

/**
 * XXH32 (xxHash 32-bit, seed 0) of `bytes`, as an unsigned 32-bit integer.
 *
 * @example
 * ```ts
 * import { xxh32 } from "./checksum.ts";
 * console.log(xxh32(new Uint8Array()).toString(16)); // 2cc5d05
 * ```
 */
export function xxh32(bytes: Uint8Array): number {
  const n = bytes.length;
  const aligned = bytes.byteOffset % 4 === 0;
  const words = aligned ? new Uint32Array(bytes.buffer, bytes.byteOffset, n >>> 2) : null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, n);
  const word = words ? (i: number) => words[i] : (i: number) => view.getUint32(4 * i, true);
  let w = 0; // next word index
  let h: number;
  if (n >= 16) {
    let v1 = (P1 + P2) | 0, v2 = P2, v3 = 0, v4 = -P1 | 0;
    const stripes = n >>> 4;
    if (words) {
      for (let s = 0; s < stripes; s++, w += 4) {
        v1 = round(v1, words[w]);
        v2 = round(v2, words[w + 1]);
        v3 = round(v3, words[w + 2]);
        v4 = round(v4, words[w + 3]);
      }
    } else {
      for (let s = 0; s < stripes; s++, w += 4) {
        v1 = round(v1, word(w));
        v2 = round(v2, word(w + 1));
        v3 = round(v3, word(w + 2));
        v4 = round(v4, word(w + 3));
      }
    }
    h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) | 0;
  } else h = P5;
  h = (h + n) | 0;
  for (; 4 * w + 4 <= n; w++) h = Math.imul(rotl((h + Math.imul(word(w), P3)) | 0, 17), P4);
  for (let i = 4 * w; i < n; i++) h = Math.imul(rotl((h + Math.imul(bytes[i], P5)) | 0, 11), P1);
  h ^= h >>> 15;
  h = Math.imul(h, P2);
  h ^= h >>> 13;
  h = Math.imul(h, P3);
  h ^= h >>> 16;
  return h >>> 0;
}

const hex = (x: number) => x.toString(16).padStart(8, "0");

function metadataHash(metadata: Record<string, string>): string {
  const entries = Object.entries(metadata).filter(([k]) => k !== CHECKSUM_KEY).sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0
  );
  return hex(xxh32(new TextEncoder().encode(JSON.stringify(entries))));
}

/**
 * The value to store under {@link CHECKSUM_KEY} for `tensors` (name → raw little-endian bytes, in file
 * order) and the other `metadata` entries.
 *
 * @example
 * ```ts
 * import { checksumMetadata } from "./checksum.ts";
 * const value = checksumMetadata([["w", new Uint8Array(8)]], { format: "pt" });
 * console.log(JSON.parse(value).algorithm); // xxh32
 * ```
 */
export function checksumMetadata(
  tensors: Iterable<[string, Uint8Array]>,
  metadata: Record<string, string>,
): string {
  const hashes: Record<string, string> = {};
  for (const [name, bytes] of tensors) hashes[name] = hex(xxh32(bytes));
  return JSON.stringify({ algorithm: "xxh32", tensors: hashes, metadata: metadataHash(metadata) });
}

/**
 * A file's stored checksums do not match its contents: it was damaged after it was written (disk, copy,
 * partial overwrite). Lists the damaged tensors; `metadata` is true when the non-tensor metadata changed.
 *
 * @example
 * ```ts
 * import { ChecksumMismatchError } from "./checksum.ts";
 * const e = new ChecksumMismatchError("ckpt.safetensors", ["backbone.body.conv1.weight"], false);
 * console.log(e.message.includes("conv1")); // true
 * ```
 */
export class ChecksumMismatchError extends WeightsFormatError {
  /** Tensors whose bytes do not match their stored hash (or that are listed but absent / unlisted). */
  readonly tensors: string[];
  /** Whether the other metadata entries (step, config, …) were changed. */
  readonly metadata: boolean;
  /** Creates the error. */
  constructor(file: string, tensors: string[], metadata: boolean) {
    const parts = [];
    if (tensors.length) {
      parts.push(
        `${tensors.length} tensor(s) do not match their checksum: ${tensors.slice(0, 8).join(", ")}` +
          (tensors.length > 8 ? ` and ${tensors.length - 8} more` : ""),
      );
    }
    if (metadata) parts.push("the metadata does not match its checksum");
    super(file, `integrity check failed, the file is corrupt (${parts.join("; ")}); refusing to load it`);
    this.tensors = tensors;
    this.metadata = metadata;
  }
}

/**
 * Verifies a file's checksums (when it has {@link CHECKSUM_KEY}); returns whether it had them. Throws
 * {@link ChecksumMismatchError} naming `file` and every damaged tensor, or {@link WeightsFormatError} for an
 * unreadable checksum entry.
 *
 * @example
 * ```ts
 * import { checksumMetadata, CHECKSUM_KEY, verifyChecksums } from "./checksum.ts";
 * const bytes = new Uint8Array(8);
 * const metadata = { [CHECKSUM_KEY]: checksumMetadata([["w", bytes]], {}) };
 * console.log(verifyChecksums("w.safetensors", new Map([["w", bytes]]), metadata)); // true
 * ```
 */
export function verifyChecksums(
  file: string,
  tensors: ReadonlyMap<string, Uint8Array>,
  metadata: Record<string, string>,
): boolean {
  const stored = metadata[CHECKSUM_KEY];
  if (stored === undefined) return false;
  let parsed: { algorithm?: unknown; tensors?: unknown; metadata?: unknown };
  try {
    parsed = JSON.parse(stored);
  } catch {
    throw new ChecksumMismatchError(file, [], true);
  }
  const hashes = parsed?.tensors as Record<string, unknown>;
  if (parsed?.algorithm !== "xxh32" || typeof hashes !== "object" || hashes === null) {
    throw new WeightsFormatError(file, `unsupported or malformed "${CHECKSUM_KEY}" metadata`);
  }
  const bad: string[] = [];
  for (const [name, bytes] of tensors) {
    if (!Object.hasOwn(hashes, name) || hashes[name] !== hex(xxh32(bytes))) bad.push(name);
  }
  for (const name of Object.keys(hashes)) if (!tensors.has(name)) bad.push(name);
  const metadataChanged = parsed.metadata !== metadataHash(metadata);
  if (bad.length || metadataChanged) throw new ChecksumMismatchError(file, bad, metadataChanged);
  return true;
}
