/**
 * Atomic file writes: data goes to a temporary file beside the target (`.<name>.<pid>.<8 hex>.tmp`),
 * is synced, then renamed over the target, so a crash or a failed write never leaves a broken file (the
 * previous one stays intact). {@link removeStaleTempFiles} cleans up after writers that were killed.
 * @module
 */

/** Writes the temporary file: all chunks in order, durably. Injectable for tests. */
export type ChunkWriter = (path: string, chunks: readonly Uint8Array[]) => Promise<void>;

/** Options of {@link writeChunksAtomic}. */
export interface WriteAtomicOptions {
  /** Replaces the file writer (tests inject failures here). */
  writeFile?: ChunkWriter;
}

const durableWriter: ChunkWriter = async (path, chunks) => {
  const file = await Deno.open(path, { write: true, createNew: true });
  try {
    for (const chunk of chunks) {
      for (let at = 0; at < chunk.byteLength;) at += await file.write(chunk.subarray(at));
    }
    await file.syncData();
  } finally {
    file.close();
  }
};

function splitPath(path: string): [string, string] {
  const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return cut < 0 ? [".", path] : [path.slice(0, cut) || "/", path.slice(cut + 1)];
}

/**
 * The temporary file an atomic write of `path` goes through: `.<name>.<pid>.<8 hex>.tmp` beside it (the
 * pattern {@link removeStaleTempFiles} cleans up).
 *
 * @example
 * ```ts
 * import { tempPathFor } from "./atomic_file.ts";
 * console.log(tempPathFor("run/model.safetensors").startsWith("run/.model.safetensors.")); // true
 * ```
 */
export function tempPathFor(path: string): string {
  const [dir, base] = splitPath(path);
  return `${dir}/.${base}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
}

/**
 * Writes `chunks` (in order, without joining them into one copy) to `path` atomically: a temporary file
 * from {@link tempPathFor} is written, synced and renamed over `path`. On any failure the temporary file
 * is removed, `path` keeps its previous content, and the error is rethrown.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { writeChunksAtomic } from "./atomic_file.ts";
 * const dir = await Deno.makeTempDir();
 * await writeChunksAtomic(`${dir}/a.bin`, [new Uint8Array([1, 2]), new Uint8Array([3])]);
 * assert.deepStrictEqual(await Deno.readFile(`${dir}/a.bin`), new Uint8Array([1, 2, 3]));
 * assert.deepStrictEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["a.bin"]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeChunksAtomic(
  path: string,
  chunks: readonly Uint8Array[],
  options: WriteAtomicOptions = {},
): Promise<void> {
  const tmp = tempPathFor(path);
  try {
    await (options.writeFile ?? durableWriter)(tmp, chunks);
    await Deno.rename(tmp, path);
  } catch (error) {
    await Deno.remove(tmp).catch(() => {});
    throw error;
  }
}

/** `.<name>.<pid>.<8 hex>.tmp`, as {@link tempPathFor} names them. */
const TEMP_FILE = /^\.(.+)\.(\d+)\.[0-9a-f]{8}\.tmp$/;

/**
 * Removes the temporary files that killed writes of {@link writeChunksAtomic} / {@link tempPathFor} left
 * in `dir` (`.<name>.<pid>.<8 hex>.tmp` of another process than this one, plus the names in `legacy`);
 * nothing else is touched. Returns the removed file names. A missing `dir` removes nothing.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { removeStaleTempFiles } from "./atomic_file.ts";
 * const dir = await Deno.makeTempDir();
 * // A temporary file left by a crashed writer (process 4711) and the checkpoint itself.
 * await Deno.writeTextFile(`${dir}/.checkpoint.safetensors.4711.0a1b2c3d.tmp`, "partial");
 * await Deno.writeTextFile(`${dir}/checkpoint.safetensors`, "kept");
 * const removed = await removeStaleTempFiles(dir);
 * assert.deepStrictEqual(removed, [".checkpoint.safetensors.4711.0a1b2c3d.tmp"]);
 * assert.strictEqual(await Deno.readTextFile(`${dir}/checkpoint.safetensors`), "kept");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function removeStaleTempFiles(dir: string, legacy: readonly string[] = []): Promise<string[]> {
  const removed: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      const m = TEMP_FILE.exec(entry.name);
      const stale = (m !== null && Number(m[2]) !== Deno.pid) || legacy.includes(entry.name);
      if (!entry.isFile || !stale) continue;
      await Deno.remove(`${dir}/${entry.name}`);
      removed.push(entry.name);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return removed.sort();
}

/**
 * Writes `data` (bytes, or text as UTF-8) durably to a temporary file beside `path` and renames it over
 * `path` ({@link writeChunksAtomic} with one chunk); on failure the temporary file is removed and `path`
 * keeps its old content (or stays absent).
 *
 * @example Replace a config file in one step
 * ```ts
 * import assert from "node:assert";
 * import { writeFileAtomic } from "./atomic_file.ts";
 * const dir = await Deno.makeTempDir();
 * await writeFileAtomic(`${dir}/config.json`, '{"numClasses": 3}\n');
 * await writeFileAtomic(`${dir}/config.json`, '{"numClasses": 4}\n');
 * assert.deepStrictEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["config.json"]); // no temporary left
 * assert.strictEqual(await Deno.readTextFile(`${dir}/config.json`), '{"numClasses": 4}\n');
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  options: WriteAtomicOptions = {},
): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  await writeChunksAtomic(path, [bytes], options);
}
