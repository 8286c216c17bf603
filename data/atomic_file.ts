/**
 * Writing a file so that a crash never leaves it half written: the data goes to a temporary file beside
 * the target, named as the checkpoint writer names its own (`.<name>.<pid>.<8 hex>.tmp`, so that
 * `removeStaleTempFiles` recognises what a killed write left), and is renamed over the target.
 * @module
 */
import { tempPathFor } from "../model/checkpoint.ts";

/**
 * Writes `data` (bytes, or text as UTF-8) to a temporary file beside `path` and renames it over `path`; on
 * failure the temporary file is removed and `path` keeps its old content (or stays absent).
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
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = tempPathFor(path);
  try {
    if (typeof data === "string") await Deno.writeTextFile(tmp, data);
    else await Deno.writeFile(tmp, data);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}
