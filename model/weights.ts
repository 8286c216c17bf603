/**
 * Loading and checking model weights: {@link loadStateDict} sniffs the format (torch zip, legacy torch
 * stream or safetensors) and returns f32 tensors under canonical torchvision 0.14 names;
 * {@link checkStateDict} compares them strictly with a config; {@link stateDictToSafetensors} writes them.
 * @module
 */
import type { MaskRcnnConfig } from "./config.ts";
import { readSafetensors, writeSafetensors } from "./safetensors.ts";
import { canonicalName, expectedStateDict, isIgnoredName, isPredictorName } from "./state_dict_names.ts";
import { isZip } from "./torch_zip.ts";
import type { StateDict, WeightTensor } from "./weights_dtype.ts";
import { type ShapeMismatch, StateDictMismatchError, WeightsFormatError } from "./weights_errors.ts";
import { isLegacyTorch, readTorchLegacy, readTorchZip, type TorchReadOptions } from "./weights_torch.ts";

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
 * Renames tensors to canonical torchvision 0.14 names ({@link canonicalName}) and drops BatchNorm
 * `num_batches_tracked`; throws if two names (e.g. both generations) map to the same tensor.
 *
 * @example
 * ```ts
 * import { canonicalStateDict } from "./weights.ts";
 * const t = { shape: [1], data: new Float32Array([1]) };
 * console.log([...canonicalStateDict(new Map([["rpn.head.conv.bias", t]])).keys()]); // ["rpn.head.conv.0.0.bias"]
 * ```
 */
export function canonicalStateDict(
  stateDict: ReadonlyMap<string, WeightTensor>,
  file = "<state_dict>",
): StateDict {
  const out: StateDict = new Map();
  const from = new Map<string, string>();
  for (const [name, tensor] of stateDict) {
    if (isIgnoredName(name)) continue;
    const canonical = canonicalName(name);
    if (out.has(canonical)) {
      throw new WeightsFormatError(
        file,
        `tensors ${from.get(canonical)} and ${name} both map to ${canonical}`,
      );
    }
    out.set(canonical, tensor);
    from.set(canonical, name);
  }
  return out;
}

/**
 * Loads weights from a torch checkpoint (zip format, or the legacy pre-1.6 stream) or a safetensors file
 * and returns f32 tensors keyed by canonical torchvision 0.14 name. Opening a checkpoint never runs code:
 * pickles may only reference tensor-rebuilding globals. Throws {@link WeightsFormatError} (naming the file)
 * for other formats, truncated or corrupt files, and {@link ForbiddenGlobalError} for other globals.
 *
 * @example
 * ```ts
 * import { loadStateDict } from "./weights.ts";
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
  return canonicalStateDict(raw, file);
}

/** Options of {@link checkStateDict}. */
export interface CheckStateDictOptions {
  /** Ignore `roi_heads.box_predictor.*` and `roi_heads.mask_predictor.mask_fcn_logits.*` (fine-tuning). */
  skipPredictor?: boolean;
  /** Names the weights in the error (default `<state_dict>`). */
  file?: string;
}

/**
 * Strictly checks a state_dict against the tensors `config` implies; throws ONE
 * {@link StateDictMismatchError} listing every missing, unexpected and wrongly shaped tensor by name.
 * Names are compared in canonical form, so either torchvision generation passes.
 *
 * @example
 * ```ts
 * import { resolveConfig } from "./config.ts";
 * import { checkStateDict } from "./weights.ts";
 * try { checkStateDict(resolveConfig({ preset: "small" }), new Map()); } catch (e) { console.log((e as Error).name); }
 * ```
 */
export function checkStateDict(
  config: MaskRcnnConfig,
  stateDict: ReadonlyMap<string, WeightTensor>,
  options: CheckStateDictOptions = {},
): void {
  const skip = (name: string) => options.skipPredictor === true && isPredictorName(name);
  const present = new Map<string, WeightTensor>();
  for (const [name, t] of stateDict) if (!isIgnoredName(name)) present.set(canonicalName(name), t);
  const missing: string[] = [];
  const wrongShape: ShapeMismatch[] = [];
  const expected = new Set<string>();
  for (const { name, shape } of expectedStateDict(config)) {
    expected.add(name);
    if (skip(name)) continue;
    const t = present.get(name);
    if (!t) missing.push(name);
    else if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      wrongShape.push({ name, expected: shape, actual: [...t.shape] });
    }
  }
  const unexpected = [...present.keys()].filter((n) => !expected.has(n) && !skip(n));
  if (missing.length || unexpected.length || wrongShape.length) {
    throw new StateDictMismatchError(options.file ?? "<state_dict>", missing, unexpected, wrongShape);
  }
}

/**
 * Serialises a state_dict as safetensors (F32) under canonical torchvision 0.14 names, with metadata
 * `{"format": "pt"}` plus `metadata`.
 *
 * @example
 * ```ts
 * import { loadStateDict, stateDictToSafetensors } from "./weights.ts";
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

export type { StateDict, WeightTensor } from "./weights_dtype.ts";
