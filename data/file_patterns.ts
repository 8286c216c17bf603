/**
 * File lists from glob patterns: `*`, `?` and `[...]` inside path segments (no `**`), e.g.
 * `data/train-?????-of-00010.tfrecord` or `shards/*.tfrecord`.
 * @module
 */

import { DataError } from "./errors.ts";

/**
 * True when a path segment contains glob characters.
 * @example
 * ```ts
 * hasGlob("train-*.tfrecord"); // true
 * ```
 */
export function hasGlob(segment: string): boolean {
  return /[*?[]/.test(segment);
}

/**
 * Converts one glob segment to an anchored regular expression.
 * @example
 * ```ts
 * globSegmentToRegExp("a-?.txt").test("a-1.txt"); // true
 * ```
 */
export function globSegmentToRegExp(segment: string): RegExp {
  let re = "";
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i];
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const close = segment.indexOf("]", i + 1);
      if (close < 0) re += "\\[";
      else {
        let body = segment.slice(i + 1, close);
        if (body.startsWith("!")) body = "^" + body.slice(1);
        re += `[${body.replace(/\\/g, "\\\\")}]`;
        i = close;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

async function expandOne(pattern: string): Promise<string[]> {
  const absolute = pattern.startsWith("/");
  const segments = pattern.split("/").filter((s, i) => s !== "" || i === 0);
  let bases = [absolute ? "/" : ""];
  for (const segment of absolute ? segments.slice(1) : segments) {
    const next: string[] = [];
    for (const base of bases) {
      const join = (name: string) =>
        base === "" ? name : base.endsWith("/") ? base + name : `${base}/${name}`;
      if (!hasGlob(segment)) {
        next.push(join(segment));
        continue;
      }
      const re = globSegmentToRegExp(segment);
      try {
        for await (const entry of Deno.readDir(base === "" ? "." : base)) {
          if (re.test(entry.name)) next.push(join(entry.name));
        }
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
    }
    bases = next;
  }
  const existing: string[] = [];
  for (const path of bases) {
    try {
      await Deno.stat(path);
      existing.push(path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  return existing.sort();
}

/**
 * Expands glob patterns and plain paths into a sorted, de-duplicated file list. A pattern matching nothing
 * (or a missing plain path) throws a `DataError` with reason `no-files` naming the pattern.
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { expandFilePatterns } from "./file_patterns.ts";
 * import { DataError } from "./errors.ts";
 * const dir = await Deno.makeTempDir();
 * for (const name of ["train-1.tfrecord", "train-0.tfrecord", "val-0.tfrecord"]) await Deno.writeFile(`${dir}/${name}`, new Uint8Array());
 * const files = await expandFilePatterns([`${dir}/train-*.tfrecord`, `${dir}/train-0.tfrecord`]);
 * assert.deepStrictEqual(files, [`${dir}/train-0.tfrecord`, `${dir}/train-1.tfrecord`]); // sorted, no duplicates
 * await assert.rejects(expandFilePatterns(`${dir}/test-*.tfrecord`), (e) => e instanceof DataError && e.reason === "no-files");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function expandFilePatterns(patterns: string | string[]): Promise<string[]> {
  const list = typeof patterns === "string" ? [patterns] : patterns;
  const out = new Set<string>();
  for (const pattern of list) {
    const files = await expandOne(pattern);
    if (files.length === 0) {
      throw new DataError("no-files", "no file matches this path or pattern", { file: pattern });
    }
    for (const f of files) out.add(f);
  }
  return [...out];
}
