/**
 * Reading JSON files: the one place where the tools parse a JSON file (COCO annotations, results files,
 * config files, run settings), so that every parse error names the file (and a missing file says so)
 * instead of surfacing as a bare `SyntaxError`.
 * @module
 */
import { DataError } from "./errors.ts";

/**
 * Parses the text of a JSON file; a syntax error becomes a `DataError` (`malformed-json`) naming `file`,
 * with the parser's message (position) and the `SyntaxError` as its cause.
 *
 * @example
 * ```ts
 * import { parseJsonText } from "./json_file.ts";
 * console.log(parseJsonText('{"a": 1}', "settings.json")); // { a: 1 }
 * try {
 *   parseJsonText('{"a": ', "run.json");
 * } catch (e) {
 *   console.log((e as Error).message); // "run.json: not valid JSON (Unexpected end of JSON input)"
 * }
 * ```
 */
export function parseJsonText(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new DataError("malformed-json", `not valid JSON (${(e as Error).message})`, { file }, { cause: e });
  }
}

/**
 * Reads and parses a JSON file. A file that cannot be read is a `DataError` with reason `missing-file`,
 * bad JSON one with reason `malformed-json`; both name the file.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { readJsonFile } from "./json_file.ts";
 * import { DataError } from "./errors.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/instances.json`, '{"images": [{"id": 1}]}');
 * const gt = await readJsonFile(`${dir}/instances.json`) as { images: unknown[] };
 * assert.strictEqual(gt.images.length, 1);
 * await Deno.writeTextFile(`${dir}/bad.json`, "{");
 * await assert.rejects(readJsonFile(`${dir}/bad.json`), (e) => e instanceof DataError && e.reason === "malformed-json");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readJsonFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new DataError("missing-file", `cannot read (${(e as Error).message})`, { file: path }, {
      cause: e,
    });
  }
  return parseJsonText(text, path);
}
