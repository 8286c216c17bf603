/**
 * Loading and saving weight files: {@link loadStateDict} sniffs the format (torch zip, legacy torch stream
 * or safetensors) of bytes, a `Response`, a path or a URL and returns f32 tensors under canonical
 * torchvision 0.14 names; {@link stateDictToSafetensors} writes them. What a model does with a state_dict
 * in memory is model/'s (`checkStateDict`, `setStateDict`).
 * @module
 */
import { canonicalStateDict } from "../../model/weights.ts";
import type { StateDict, WeightTensor } from "../../model/state_dict.ts";
import { WeightsError } from "../../model/weights_errors.ts";
import { readSafetensors, writeSafetensors } from "./safetensors.ts";
import { isZip } from "./torch_zip.ts";
import { WeightsFormatError } from "./errors.ts";
import { isLegacyTorch, readTorchLegacy, readTorchZip, type TorchReadOptions } from "./torch_file.ts";

/**
 * Where weights come from: file bytes, a fetch `Response`, a path, or a `file:` / `http(s):` URL. In a
 * browser page (no `Deno`), a string is a URL resolved against the page, fetched with `fetch`.
 */
export type WeightsSource = Uint8Array | ArrayBuffer | Response | string | URL;

async function fetchBytes(url: string | URL, name: string): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new WeightsFormatError(name, `cannot fetch (${(e as Error).message})`, { cause: e });
  }
  return await responseBytes(response, name);
}

async function responseBytes(response: Response, name: string): Promise<Uint8Array> {
  if (!response.ok) throw new WeightsFormatError(name, `HTTP ${response.status} ${response.statusText}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** Options of {@link loadStateDict}. */
export interface LoadStateDictOptions extends TorchReadOptions {
  /** Names the source in errors (default: the path or URL, or `<bytes>`). */
  file?: string;
}

async function readSource(source: WeightsSource, file?: string): Promise<[Uint8Array, string]> {
  if (source instanceof Uint8Array) return [source, file ?? "<bytes>"];
  if (source instanceof ArrayBuffer) return [new Uint8Array(source), file ?? "<bytes>"];
  if (typeof Response !== "undefined" && source instanceof Response) {
    return [
      await responseBytes(source, file ?? (source.url || "<response>")),
      file ?? (source.url || "<response>"),
    ];
  }
  const name = file ?? String(source);
  if (source instanceof URL && source.protocol !== "file:") return [await fetchBytes(source, name), name];
  const inBrowser = (globalThis as { Deno?: unknown }).Deno === undefined;
  if (typeof source === "string" && (inBrowser || /^https?:\/\//.test(source))) {
    return [await fetchBytes(source, name), name];
  }
  try {
    return [await Deno.readFile(source as string | URL), name];
  } catch (e) {
    throw new WeightsFormatError(name, `cannot read the file (${(e as Error).message})`, { cause: e });
  }
}

function looksLikeSafetensors(bytes: Uint8Array): boolean {
  if (bytes.length < 9) return false;
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  // a plausible header length and a JSON object start; readSafetensors reports truncation precisely
  return n > 1n && n < 100_000_000n && bytes[8] === 0x7b; // "{"
}

function isTar(bytes: Uint8Array): boolean {
  return bytes.length >= 262 && new TextDecoder().decode(bytes.subarray(257, 262)) === "ustar";
}

/**
 * Loads weights from a torch checkpoint (zip format, or the legacy pre-1.6 stream) or a safetensors file
 * and returns f32 tensors keyed by canonical torchvision 0.14 name. Opening a checkpoint never runs code:
 * pickles may only reference tensor-rebuilding globals. Throws {@link WeightsFormatError} (naming the file)
 * for other formats, truncated or corrupt files, and {@link ForbiddenGlobalError} for other globals.
 *
 * @example
 * ```ts
 * import { loadStateDict } from "./load_state_dict.ts";
 * const sd = await loadStateDict("tests/fixtures/model/small_subset.safetensors");
 * console.log(sd.get("backbone.body.conv1.weight")?.shape); // [64, 3, 7, 7]
 * ```
 */
export async function loadStateDict(
  source: WeightsSource,
  options: LoadStateDictOptions = {},
): Promise<StateDict> {
  const [bytes, file] = await readSource(source, options.file);
  let raw: StateDict;
  if (isZip(bytes)) raw = await readTorchZip(bytes, file, options);
  else if (isLegacyTorch(bytes)) raw = readTorchLegacy(bytes, file);
  else if (looksLikeSafetensors(bytes)) raw = readSafetensors(bytes, file).tensors;
  else if (isTar(bytes)) {
    throw new WeightsFormatError(
      file,
      "tar-format torch checkpoints (torch < 0.4) are not supported; re-save it",
    );
  } else {
    throw new WeightsFormatError(
      file,
      "not safetensors or a torch zip (nor a legacy torch.save stream); " +
        (bytes.length < 9 ? `only ${bytes.length} bytes` : "unrecognised header"),
    );
  }
  try {
    return canonicalStateDict(raw, file);
  } catch (e) {
    // two tensors of the file map to one canonical name: the file is malformed
    if (e instanceof WeightsError) throw new WeightsFormatError(file, e.detail, { cause: e });
    throw e;
  }
}

/**
 * Serialises a state_dict as safetensors (F32) under canonical torchvision 0.14 names, with metadata
 * `{"format": "pt"}` plus `metadata`.
 *
 * @example
 * ```ts
 * import { loadStateDict, stateDictToSafetensors } from "./load_state_dict.ts";
 * const bytes = stateDictToSafetensors(new Map([["rpn.head.conv.weight", { shape: [1], data: new Float32Array([2]) }]]));
 * console.log([...(await loadStateDict(bytes)).keys()]); // ["rpn.head.conv.0.0.weight"]
 * ```
 */
export function stateDictToSafetensors(
  stateDict: ReadonlyMap<string, WeightTensor>,
  metadata: Record<string, string> = {},
): Uint8Array<ArrayBuffer> {
  return writeSafetensors(canonicalStateDict(stateDict), { format: "pt", ...metadata });
}
