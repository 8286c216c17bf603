/**
 * Shared by the id-mask dataset readers (PennFudan, VOC): listing image / mask folders by file stem,
 * reading a mask PNG of ids checked against its image, and the target of an image without objects.
 * @module
 */
import { DataError } from "./errors.ts";
import { DEFAULT_MAX_IMAGE_PIXELS } from "./image_codec.ts";
import { decodeIdPng, type IdMap } from "./instance_id_masks.ts";
import type { Target } from "./types.ts";

/**
 * Lists `dir`'s files matching `pattern` as stem → path; null when the folder does not exist.
 * @example
 * ```ts
 * const masks = await listFiles("PennFudanPed/PedMasks", /(_mask)?\.png$/i); // "FudanPed00001" → path
 * ```
 */
export async function listFiles(dir: string, pattern: RegExp): Promise<Map<string, string> | null> {
  const files = new Map<string, string>();
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && pattern.test(e.name)) files.set(e.name.replace(pattern, ""), `${dir}/${e.name}`);
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new DataError("missing-file", `cannot list files (${(e as Error).message})`, { file: dir });
  }
  return files;
}

/**
 * The first of `candidates` (folder names under `root`) that exists, listed.
 * @example
 * ```ts
 * const found = await firstFolder("PennFudanPed", ["PNGImages", "images"], /\.png$/i);
 * ```
 */
export async function firstFolder(
  root: string,
  candidates: readonly string[],
  pattern: RegExp,
): Promise<{ dir: string; files: Map<string, string> } | null> {
  for (const name of candidates) {
    const files = await listFiles(`${root}/${name}`, pattern);
    if (files) return { dir: `${root}/${name}`, files };
  }
  return null;
}

/**
 * Reads a mask PNG of ids ({@link decodeIdPng}) and checks its size against the image's.
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { readIdMap } from "./_id_mask_folders.ts";
 * import { encodePng } from "./image_codec.ts";
 * const file = await Deno.makeTempFile({ suffix: ".png" });
 * await Deno.writeFile(file, encodePng(new Uint8Array([0, 1, 2, 0, 1, 2]), 3, 2, 1)); // ids, 3×2
 * const map = await readIdMap(file, 3, 2);
 * assert.deepStrictEqual([...map.ids], [0, 1, 2, 0, 1, 2]);
 * await Deno.remove(file);
 * ```
 */
export async function readIdMap(file: string, width: number, height: number): Promise<IdMap> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(file);
  } catch (e) {
    throw new DataError("missing-file", `cannot read mask (${(e as Error).message})`, { file });
  }
  // The image passed its own pixel limit; a mask of the same size must not fail a lower default.
  const maxPixels = Math.max(width * height, DEFAULT_MAX_IMAGE_PIXELS);
  const map = await decodeIdPng(bytes, file, { maxPixels });
  if (map.width !== width || map.height !== height) {
    throw new DataError("bad-mask", `mask is ${map.height}×${map.width}, image is ${height}×${width}`, {
      file,
    });
  }
  return map;
}

/**
 * The target of an image without objects (an empty mask stack): torchvision's negatives.
 * @example
 * ```ts
 * emptyTarget().labels.length; // 0
 * ```
 */
export function emptyTarget(): Target {
  return { boxes: new Float32Array(0), labels: new Int32Array(0), masks: new Uint8Array(0) };
}
