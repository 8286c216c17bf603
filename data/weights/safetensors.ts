/**
 * The safetensors format: an 8-byte little-endian header length, a JSON header mapping each tensor name
 * to `{dtype, shape, data_offsets: [begin, end]}` (offsets relative to the end of the header) plus an
 * optional `__metadata__` string map, then the raw little-endian tensor bytes.
 * @module
 */
import type { StateDict } from "../../model/state_dict.ts";
import { DTYPE_SIZE, isWeightDType, numel, toFloat32 } from "./dtype.ts";
import { WeightsFormatError } from "./errors.ts";
import { CHECKSUM_KEY, checksumMetadata, verifyChecksums } from "./checksum.ts";

/** A parsed safetensors file: tensors (as f32) under their stored names, and `__metadata__`. */
export interface SafetensorsFile {
  tensors: StateDict;
  /** `__metadata__` without the checksum entry. */
  metadata: Record<string, string>;
  /** Whether the file carried checksums (now verified); false for files of other writers or older ones. */
  verified: boolean;
}

/** Largest header we accept (the format's reference implementation caps it at 100 MB). */
const MAX_HEADER = 100_000_000;

function isShape(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((d) => Number.isSafeInteger(d) && d >= 0);
}

/**
 * Parses a safetensors file; every dtype of {@link WeightDType} is converted to Float32Array. Throws
 * {@link WeightsFormatError} naming `file` and the tensor for a truncated file, a bad header or bad offsets,
 * and {@link ChecksumMismatchError} when the file carries checksums ({@link CHECKSUM_KEY}, written by
 * {@link writeSafetensors}) that its tensors or metadata no longer match.
 *
 * @example
 * ```ts
 * import { readSafetensors, writeSafetensors } from "./safetensors.ts";
 * const bytes = writeSafetensors(new Map([["w", { shape: [2], data: new Float32Array([1, 2]) }]]));
 * console.log(readSafetensors(bytes).tensors.get("w")?.data); // Float32Array [1, 2]
 * ```
 */
export function readSafetensors(bytes: Uint8Array, file = "<bytes>"): SafetensorsFile {
  const fail = (detail: string): never => {
    throw new WeightsFormatError(file, `invalid safetensors file: ${detail}`);
  };
  if (bytes.byteLength < 8) fail(`only ${bytes.byteLength} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > MAX_HEADER || headerLength > bytes.byteLength - 8) {
    fail(
      `header length ${headerLength} exceeds the file (${bytes.byteLength} bytes): truncated or not safetensors`,
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)),
    );
  } catch (e) {
    fail(`header is not UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) fail("header is not an object");
  const data = bytes.subarray(8 + headerLength);
  const tensors: StateDict = new Map();
  const raw = new Map<string, Uint8Array>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
        fail("__metadata__ is not an object");
      }
      metadata = entry as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets: offsets } = (entry ?? {}) as Record<string, unknown>;
    if (typeof dtype !== "string" || !isWeightDType(dtype)) {
      fail(`tensor ${name} has unsupported dtype ${dtype}`);
    }
    if (!isShape(shape)) fail(`tensor ${name} has an invalid shape ${JSON.stringify(shape)}`);
    if (!isShape(offsets) || offsets.length !== 2 || offsets[0] > offsets[1]) {
      fail(`tensor ${name} has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as number[];
    const count = numel(shape as number[]);
    const size = DTYPE_SIZE[dtype as keyof typeof DTYPE_SIZE];
    if (end - begin !== count * size) {
      fail(
        `tensor ${name}: data_offsets span ${end - begin} bytes, but ${dtype}[${shape}] needs ${
          count * size
        }`,
      );
    }
    if (end > data.byteLength) {
      fail(`tensor ${name} ends at byte ${end} of ${data.byteLength} data bytes: the file is truncated`);
    }
    raw.set(name, data.subarray(begin, end));
    const values = toFloat32(data.subarray(begin, end), dtype as keyof typeof DTYPE_SIZE, count);
    tensors.set(name, {
      shape: [...(shape as number[])],
      data: values,
      dtype: dtype as keyof typeof DTYPE_SIZE,
    });
  }
  const verified = verifyChecksums(file, raw, metadata);
  if (verified) {
    metadata = { ...metadata };
    delete metadata[CHECKSUM_KEY];
  }
  return { tensors, metadata, verified };
}

/**
 * Serialises f32 tensors as safetensors (dtype `F32`, in the map's order), with optional string metadata
 * plus the checksums {@link readSafetensors} verifies (under {@link CHECKSUM_KEY}). The header is
 * space-padded to a multiple of 8 bytes so the data is aligned.
 *
 * @example
 * ```ts
 * import { writeSafetensors } from "./safetensors.ts";
 * const bytes = writeSafetensors(new Map([["b", { shape: [1], data: new Float32Array([3]) }]]), { by: "me" });
 * console.log(bytes.byteLength % 8); // 4 (8 + padded header + 4 data bytes)
 * ```
 */
export function writeSafetensors(
  tensors: ReadonlyMap<string, { shape: number[]; data: Float32Array }>,
  metadata?: Record<string, string>,
): Uint8Array<ArrayBuffer> {
  const chunks = safetensorsChunks(tensors, metadata);
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

/**
 * The bytes {@link writeSafetensors} returns, as chunks that are not copied: the header, then a view of
 * each tensor's data. For streaming a large file to disk without a second copy in memory.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { safetensorsChunks, writeSafetensors } from "./safetensors.ts";
 * const tensors = new Map([["b", { shape: [2], data: new Float32Array([3, 4]) }]]);
 * const chunks = safetensorsChunks(tensors);
 * assert.strictEqual(chunks[1].buffer, tensors.get("b")!.data.buffer); // a view, not a copy
 * assert.deepStrictEqual(new Uint8Array(chunks.flatMap((c) => [...c])), writeSafetensors(tensors));
 * ```
 */
export function safetensorsChunks(
  tensors: ReadonlyMap<string, { shape: number[]; data: Float32Array }>,
  metadata?: Record<string, string>,
): Uint8Array[] {
  const bytesOf = (t: { data: Float32Array }) =>
    new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const stored = { ...metadata };
  delete stored[CHECKSUM_KEY];
  const header: Record<string, unknown> = {
    __metadata__: {
      ...stored,
      [CHECKSUM_KEY]: checksumMetadata([...tensors].map(([name, t]) => [name, bytesOf(t)]), stored),
    },
  };
  let offset = 0;
  for (const [name, t] of tensors) {
    if (t.data.length !== numel(t.shape)) {
      throw new WeightsFormatError(
        "<safetensors writer>",
        `tensor ${name} has ${t.data.length} values but shape [${t.shape}]`,
      );
    }
    header[name] = { dtype: "F32", shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const head = new Uint8Array(8 + Math.ceil(json.byteLength / 8) * 8).fill(0x20);
  new DataView(head.buffer).setBigUint64(0, BigInt(head.byteLength - 8), true);
  head.set(json, 8);
  return [head, ...[...tensors.values()].map(bytesOf)];
}
