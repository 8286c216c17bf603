/**
 * TFRecord framing: each record is `uint64 length (LE) | uint32 masked_crc32c(length) | data |
 * uint32 masked_crc32c(data)`. Reading checks both CRCs and reports the file and record index on error.
 * @module
 */

import { maskedCrc32c } from "./crc32c.ts";
import { DataError } from "./errors.ts";

/** Where one record's data lies in a TFRecord file. */
export interface TfRecordEntry {
  /** Byte offset of the record's data (after the 12-byte header). */
  offset: number;
  /** Data length in bytes. */
  length: number;
}

/**
 * Frames one record (header, data and CRCs).
 * @example
 * ```ts
 * const framed = encodeTfRecord(new Uint8Array([1, 2, 3])); // 3 + 16 bytes
 * ```
 */
export function encodeTfRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length + 16);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

/**
 * Writes records to a TFRecord file.
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { parseTfRecords, writeTfRecordFile } from "./tfrecord.ts";
 * const dir = await Deno.makeTempDir();
 * await writeTfRecordFile(`${dir}/a.tfrecord`, [new Uint8Array([1, 2, 3])]);
 * const bytes = await Deno.readFile(`${dir}/a.tfrecord`);
 * assert.strictEqual(bytes.length, 8 + 4 + 3 + 4); // length, its CRC, data, data CRC
 * assert.deepStrictEqual(parseTfRecords(bytes, "a.tfrecord"), [new Uint8Array([1, 2, 3])]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeTfRecordFile(path: string, records: Iterable<Uint8Array>): Promise<void> {
  const parts = [...records].map(encodeTfRecord);
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  await Deno.writeFile(path, out);
}

function checkHeader(header: Uint8Array, file: string, recordIndex: number): number {
  const view = new DataView(header.buffer, header.byteOffset, 12);
  const length = view.getBigUint64(0, true);
  if (view.getUint32(8, true) !== maskedCrc32c(header.subarray(0, 8))) {
    throw new DataError("bad-crc", "length CRC mismatch", { file, recordIndex });
  }
  if (length > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new DataError("truncated-record", `record length ${length} too large`, { file, recordIndex });
  }
  return Number(length);
}

function checkData(data: Uint8Array, crc: number, file: string, recordIndex: number): void {
  if (crc !== maskedCrc32c(data)) throw new DataError("bad-crc", "data CRC mismatch", { file, recordIndex });
}

/**
 * Splits an in-memory TFRecord file into records, checking both CRCs of each.
 * Throws `DataError` (`bad-crc` or `truncated-record`) naming `file` and the record index.
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { encodeTfRecord, parseTfRecords } from "./tfrecord.ts";
 * import { DataError } from "./errors.ts";
 * const bytes = new Uint8Array([...encodeTfRecord(new Uint8Array([7])), ...encodeTfRecord(new Uint8Array([8, 9]))]);
 * const records = parseTfRecords(bytes, "a.tfrecord");
 * assert.deepStrictEqual(records, [new Uint8Array([7]), new Uint8Array([8, 9])]);
 * bytes[12] ^= 1; // damage the first record's data
 * assert.throws(() => parseTfRecords(bytes, "a.tfrecord"), (e) => e instanceof DataError && e.reason === "bad-crc");
 * ```
 */
export function parseTfRecords(bytes: Uint8Array, file: string): Uint8Array[] {
  const records: Uint8Array[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const index = records.length;
    if (pos + 12 > bytes.length) {
      throw new DataError("truncated-record", "truncated record header", { file, recordIndex: index });
    }
    const length = checkHeader(bytes.subarray(pos, pos + 12), file, index);
    const end = pos + 12 + length + 4;
    if (end > bytes.length) {
      throw new DataError("truncated-record", "truncated record data", { file, recordIndex: index });
    }
    const data = bytes.subarray(pos + 12, pos + 12 + length);
    const crc = new DataView(bytes.buffer, bytes.byteOffset + end - 4, 4).getUint32(0, true);
    checkData(data, crc, file, index);
    records.push(data);
    pos = end;
  }
  return records;
}

async function readExactAt(f: Deno.FsFile, offset: number, n: number): Promise<Uint8Array | null> {
  await f.seek(offset, Deno.SeekMode.Start);
  const buf = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const r = await f.read(buf.subarray(got));
    if (r === null) return null;
    got += r;
  }
  return buf;
}

/**
 * Indexes a TFRecord file by reading only the record headers (length CRCs are checked; data CRCs are
 * checked when a record is read with `readTfRecordAt`).
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { indexTfRecordFile, readTfRecordAt, writeTfRecordFile } from "./tfrecord.ts";
 * const path = `${await Deno.makeTempDir()}/a.tfrecord`;
 * await writeTfRecordFile(path, [new Uint8Array([1, 2, 3]), new Uint8Array([4, 5])]);
 * const entries = await indexTfRecordFile(path);
 * assert.strictEqual(entries.length, 2);
 * const first = await readTfRecordAt(path, entries[0], 0);
 * assert.deepStrictEqual(first, new Uint8Array([1, 2, 3]));
 * ```
 */
export async function indexTfRecordFile(path: string): Promise<TfRecordEntry[]> {
  let f: Deno.FsFile;
  try {
    f = await Deno.open(path, { read: true });
  } catch (e) {
    throw new DataError(
      "missing-file",
      `cannot open TFRecord file (${(e as Error).message})`,
      { file: path },
      {
        cause: e,
      },
    );
  }
  try {
    const size = (await f.stat()).size;
    const entries: TfRecordEntry[] = [];
    let pos = 0;
    while (pos < size) {
      const index = entries.length;
      const header = pos + 12 <= size ? await readExactAt(f, pos, 12) : null;
      if (header === null) {
        throw new DataError("truncated-record", "truncated record header", {
          file: path,
          recordIndex: index,
        });
      }
      const length = checkHeader(header, path, index);
      if (pos + 16 + length > size) {
        throw new DataError("truncated-record", "truncated record data", { file: path, recordIndex: index });
      }
      entries.push({ offset: pos + 12, length });
      pos += 16 + length;
    }
    return entries;
  } finally {
    f.close();
  }
}

/**
 * Reads one record's data located by `indexTfRecordFile`, checking its data CRC.
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { indexTfRecordFile, readTfRecordAt, writeTfRecordFile } from "./tfrecord.ts";
 * const path = `${await Deno.makeTempDir()}/a.tfrecord`;
 * await writeTfRecordFile(path, [new Uint8Array([1, 2, 3]), new Uint8Array([4, 5])]);
 * const entries = await indexTfRecordFile(path);
 * const data = await readTfRecordAt(path, entries[1], 1);
 * assert.deepStrictEqual(data, new Uint8Array([4, 5]));
 * ```
 */
export async function readTfRecordAt(
  path: string,
  entry: TfRecordEntry,
  recordIndex: number,
): Promise<Uint8Array> {
  let f: Deno.FsFile;
  try {
    f = await Deno.open(path, { read: true });
  } catch (e) {
    throw new DataError(
      "missing-file",
      `cannot open TFRecord file (${(e as Error).message})`,
      { file: path },
      {
        cause: e,
      },
    );
  }
  try {
    const buf = await readExactAt(f, entry.offset, entry.length + 4);
    if (buf === null) {
      throw new DataError("truncated-record", "truncated record data", { file: path, recordIndex });
    }
    const data = buf.subarray(0, entry.length);
    checkData(data, new DataView(buf.buffer).getUint32(entry.length, true), path, recordIndex);
    return data;
  } finally {
    f.close();
  }
}
