/**
 * What every subcommand shares: the output sink ({@link CliIo}), {@link UsageError} (exit code 2),
 * option parsing on top of `node:util`'s `parseArgs` (unknown options and missing values become usage
 * errors naming the option), typed number checks, and the model options `detect` and `eval --weights` both
 * take (`--weights`, `--config`, `--preset`, `--num-classes`, `--bn-eps`).
 *
 * Exit codes: 0 success, 1 a failure while working (undecodable image, bad weights, no GPU), 2 a usage error
 * found before any work (unknown or missing option, bad value, a named file that does not exist).
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import {
  COCO_CLASS_NAMES,
  type ConfigOverrides,
  type MaskRcnnConfig,
  type PresetName,
  PRESETS,
  readJsonFile as readJsonData,
} from "../mod.ts";

/** Where a command writes: one call per line of standard output / standard error. */
export interface CliIo {
  /** Writes one line to standard output. */
  out(line: string): void;
  /** Writes one line to standard error. */
  err(line: string): void;
  /**
   * Shows a one-line status (progress) that the next status or line replaces; present only when standard
   * output is a terminal (commands print progress as ordinary lines every few steps otherwise).
   */
  status?(line: string): void;
}

const encoder = new TextEncoder();
let statusShown = false;

/** Erases the status line, if one is shown, before ordinary output. */
function clearStatus(): void {
  if (!statusShown) return;
  Deno.stdout.writeSync(encoder.encode("\r\x1b[K"));
  statusShown = false;
}

function terminalColumns(): number {
  try {
    return Deno.consoleSize().columns;
  } catch {
    return 120;
  }
}

/**
 * The process's own stdout/stderr as a {@link CliIo} (with `status` when stdout is a terminal).
 *
 * @example
 * ```ts
 * import { consoleIo } from "./_common.ts";
 * consoleIo.out("hello");
 * ```
 */
export const consoleIo: CliIo = {
  out: (line) => {
    clearStatus();
    console.log(line);
  },
  err: (line) => {
    clearStatus();
    console.error(line);
  },
  ...(Deno.stdout.isTerminal()
    ? {
      status: (line: string) => {
        const text = line.length >= terminalColumns() ? line.slice(0, terminalColumns() - 1) : line;
        Deno.stdout.writeSync(encoder.encode(`\r\x1b[K${text}`));
        statusShown = text.length > 0;
      },
    }
    : {}),
};

/**
 * A bad command line (unknown option, missing or invalid value, missing file named by an argument); the CLI
 * prints the message and exits with code 2.
 *
 * @example
 * ```ts
 * import { UsageError } from "./_common.ts";
 * const error = new UsageError("--score must be a number in [0, 1], got \"2\"");
 * console.log(error.name); // "UsageError" (the CLI prints the message and exits 2)
 * ```
 */
export class UsageError extends Error {
  /** Creates the error; `message` names the argument at fault. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * One subcommand of the CLI: its name, its `--help` text, and `run`, which returns the exit code (or
 * throws: {@link UsageError} → 2, anything else → 1). `cli.ts` lists the subcommands in its table.
 */
export interface Command {
  /** The subcommand name (`detect`). */
  name: string;
  /** The full `--help` text of the subcommand. */
  help: string;
  /** Runs the subcommand with its own arguments (after the name). */
  run(args: readonly string[], io: CliIo): Promise<number>;
}

/** Option specs as `node:util` `parseArgs` takes them. */
export type OptionSpecs = NonNullable<ParseArgsConfig["options"]>;

/** Parsed options: string / boolean values (or arrays of them for `multiple` options) by long name. */
export type ParsedValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/**
 * Parses `args` strictly; unknown options, missing values and misuse become {@link UsageError}.
 *
 * @example
 * ```ts
 * import { parseCommandLine } from "./_common.ts";
 * const { values, positionals } = parseCommandLine(["--json", "a.png"], { json: { type: "boolean" } });
 * console.log(values.json, positionals); // true [ "a.png" ]
 * ```
 */
export function parseCommandLine(
  args: readonly string[],
  options: OptionSpecs,
): { values: ParsedValues; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({
      args: [...args],
      options,
      allowPositionals: true,
      strict: true,
    });
    return { values: values as ParsedValues, positionals };
  } catch (e) {
    // node's messages end with a hint about "--" that does not help here; keep the first sentence.
    const message = (e as Error).message.replace(/\. To specify a positional argument.*$/s, "");
    throw new UsageError(message);
  }
}

/**
 * A string option's value, or undefined.
 *
 * @example
 * ```ts
 * import { stringOption } from "./_common.ts";
 * console.log(stringOption({ out: "dir", json: true }, "out")); // "dir"
 * ```
 */
export function stringOption(values: ParsedValues, name: string): string | undefined {
  const v = values[name];
  return typeof v === "string" ? v : undefined;
}

/**
 * A number option checked against a range (and integrality); throws {@link UsageError} naming the option.
 *
 * @example
 * ```ts
 * import { numberOption } from "./_common.ts";
 * console.log(numberOption({ score: "0.3" }, "score", { min: 0, max: 1 }, 0.5)); // 0.3
 * ```
 */
export function numberOption(
  values: ParsedValues,
  name: string,
  range: { min?: number; max?: number; integer?: boolean },
  fallback: number,
): number;
/**
 * Without a fallback: undefined when the option is absent.
 *
 * @example
 * ```ts
 * import { numberOption } from "./_common.ts";
 * console.log(numberOption({}, "batch", { min: 1, integer: true })); // undefined
 * ```
 */
export function numberOption(
  values: ParsedValues,
  name: string,
  range: { min?: number; max?: number; integer?: boolean },
): number | undefined;
/**
 * Implementation of both overloads.
 *
 * @example
 * ```ts
 * import { numberOption } from "./_common.ts";
 * console.log(numberOption({ batch: "4" }, "batch", { min: 1, integer: true })); // 4
 * ```
 */
export function numberOption(
  values: ParsedValues,
  name: string,
  range: { min?: number; max?: number; integer?: boolean },
  fallback?: number,
): number | undefined {
  const text = stringOption(values, name);
  if (text === undefined) return fallback;
  const value = text.trim() === "" ? NaN : Number(text);
  const { min = -Infinity, max = Infinity, integer = false } = range;
  const ok = Number.isFinite(value) && value >= min && value <= max && (!integer || Number.isInteger(value));
  if (!ok) {
    const kind = integer ? "an integer" : "a number";
    const bounds = Number.isFinite(min) && Number.isFinite(max)
      ? ` in [${min}, ${max}]`
      : Number.isFinite(min)
      ? ` ≥ ${min}`
      : "";
    throw new UsageError(`--${name} must be ${kind}${bounds}, got ${JSON.stringify(text)}`);
  }
  return value;
}

/**
 * True for `http:` / `https:` / `file:` URLs (weights may be fetched instead of read).
 *
 * @example
 * ```ts
 * import { isUrl } from "./_common.ts";
 * console.log(isUrl("https://example.com/w.pth"), isUrl("w.pth")); // true false
 * ```
 */
export function isUrl(text: string): boolean {
  return /^(https?|file):\/\//i.test(text);
}

/**
 * Checks that `path`, named by option `what`, is an existing regular file (or directory with `dir`);
 * throws {@link UsageError} naming both otherwise.
 *
 * @example
 * ```ts
 * import { requireFile } from "./_common.ts";
 * try {
 *   await requireFile("--weights", "missing.pth");
 * } catch (e) {
 *   console.log((e as Error).message); // "--weights: no such file: missing.pth"
 * }
 * ```
 */
export async function requireFile(what: string, path: string, dir = false): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    const reason = e instanceof Deno.errors.NotFound
      ? "no such file"
      : `cannot read (${(e as Error).message})`;
    throw new UsageError(`${what}: ${reason}: ${path}`);
  }
  if (dir && !info.isDirectory) throw new UsageError(`${what}: not a directory: ${path}`);
  if (!dir && !info.isFile) throw new UsageError(`${what}: not a file: ${path}`);
}

/**
 * Reads and parses a JSON file named by option `what`; a missing file or bad JSON is a {@link UsageError}
 * (for files of settings such as `--config`; data files report bad contents as failures instead).
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { readJsonFile, UsageError } from "./_common.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/config.json`, '{"numClasses": 3}');
 * const config = await readJsonFile("--config", `${dir}/config.json`);
 * assert.deepStrictEqual(config, { numClasses: 3 });
 * await assert.rejects(readJsonFile("--config", `${dir}/none.json`), (e) => e instanceof UsageError && /^--config: no such file/.test(e.message));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readJsonFile(what: string, path: string): Promise<unknown> {
  await requireFile(what, path);
  try {
    return await readJsonData(path);
  } catch (e) {
    throw new UsageError(`${what}: ${(e as Error).message}`);
  }
}

/**
 * Model options shared by `detect` and `eval --weights`, for `parseArgs`.
 *
 * @example
 * ```ts
 * import { MODEL_OPTIONS, parseCommandLine } from "./_common.ts";
 * const { values } = parseCommandLine(["-w", "model.pth", "--bn-eps", "0"], MODEL_OPTIONS);
 * console.log(values.weights, values["bn-eps"]); // "model.pth" "0"
 * ```
 */
export const MODEL_OPTIONS: OptionSpecs = {
  weights: { type: "string", short: "w" },
  config: { type: "string", short: "c" },
  preset: { type: "string", short: "p" },
  "num-classes": { type: "string" },
  "bn-eps": { type: "string" },
};

/**
 * Help text lines for {@link MODEL_OPTIONS}.
 *
 * @example
 * ```ts
 * import { MODEL_OPTIONS_HELP } from "./_common.ts";
 * console.log(MODEL_OPTIONS_HELP.split("\n")[0]); // "  -w, --weights FILE|URL  torchvision state_dict …"
 * ```
 */
export const MODEL_OPTIONS_HELP =
  `  -w, --weights FILE|URL  torchvision state_dict (.pth) or safetensors file (required)
  -p, --preset NAME       ${Object.keys(PRESETS).join(" | ")} (default maskrcnn_resnet50_fpn)
  -c, --config FILE       JSON of config overrides (MaskRcnnConfig fields in camelCase, optional "preset"),
                          plus optional "classNames" (by label, [0] = background) and "categoryIds"
                          (COCO category id per label: numClasses - 1 entries for labels 1.., or numClasses
                          entries indexed by label)
      --num-classes N     classes including background (overrides the preset / config file)
      --bn-eps X          FrozenBatchNorm eps; 0 for torchvision's published COCO weights (default 1e-5)`;

/** The model a command should build: config options for `buildModel`, names and category ids by label. */
export interface ModelChoice {
  /** Options for `buildModel` (preset + overrides). */
  options: { preset?: PresetName } & ConfigOverrides;
  /** Weights path or URL. */
  weights: string | URL;
  /** `batchNormEps` for `loadWeights`, if given. */
  batchNormEps?: number;
  /** Class names by label from the config file, if any. */
  classNames?: string[];
  /** Category ids from the config file, if any (either layout; see {@link categoryIdsByLabel}). */
  categoryIds?: number[];
}

/**
 * Reads the model options; checks the weights file exists, the preset is known and the config file parses.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { modelChoice } from "./_common.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeFile(`${dir}/model.safetensors`, new Uint8Array()); // only its existence is checked here
 * const choice = await modelChoice({ weights: `${dir}/model.safetensors`, preset: "small" });
 * assert.strictEqual(choice.options.preset, "small");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function modelChoice(values: ParsedValues): Promise<ModelChoice> {
  const weightsArg = stringOption(values, "weights");
  if (weightsArg === undefined) throw new UsageError("--weights FILE is required");
  let weights: string | URL = weightsArg;
  if (isUrl(weightsArg)) weights = new URL(weightsArg);
  else await requireFile("--weights", weightsArg);
  return { ...await configChoice(values), weights };
}

/**
 * The config part of {@link modelChoice} (`--config`, `--preset`, `--num-classes`, `--bn-eps`), for
 * commands whose weights are optional (`train` starts from scratch without them).
 *
 * @example
 * ```ts
 * import { configChoice } from "./_common.ts";
 * const choice = await configChoice({ preset: "small" });
 * console.log(choice.options.preset); // "small"
 * ```
 */
export async function configChoice(values: ParsedValues): Promise<Omit<ModelChoice, "weights">> {
  const options: { preset?: PresetName } & ConfigOverrides = {};
  let classNames: string[] | undefined, categoryIds: number[] | undefined, fileEps: number | undefined;
  const configPath = stringOption(values, "config");
  if (configPath !== undefined) {
    const json = await readJsonFile("--config", configPath);
    const parsed = configFromJson(json, `--config: ${configPath}`);
    ({ classNames, categoryIds, batchNormEps: fileEps } = parsed);
    Object.assign(options, parsed.options);
  }
  const preset = stringOption(values, "preset");
  if (preset !== undefined) options.preset = preset as PresetName;
  if (options.preset !== undefined && !Object.hasOwn(PRESETS, options.preset)) {
    const where = preset !== undefined ? "--preset" : `--config ${configPath}: "preset"`;
    throw new UsageError(
      `${where}: unknown preset ${JSON.stringify(options.preset)}; one of ${Object.keys(PRESETS).join(", ")}`,
    );
  }
  const numClasses = numberOption(values, "num-classes", { min: 2, integer: true });
  if (numClasses !== undefined) options.numClasses = numClasses;
  const batchNormEps = numberOption(values, "bn-eps", { min: 0, max: 1 }) ?? fileEps;
  return { options, batchNormEps, classNames, categoryIds };
}

/**
 * The parts of a model config file (`--config`, a run folder's `config.json` or the `maskrcnn` metadata of
 * its `model.safetensors`): config overrides (with an optional "preset"), "classNames", "categoryIds" and
 * "batchNormEps" (the FrozenBatchNorm eps the weights were trained with);
 * `where` names the source in the {@link UsageError} for a malformed one.
 *
 * @example
 * ```ts
 * import { configFromJson } from "./_common.ts";
 * const { options, classNames } = configFromJson({ preset: "small", classNames: ["background", "cat"] }, "x");
 * console.log(options.preset, classNames); // "small" [ "background", "cat" ]
 * ```
 */
export function configFromJson(
  json: unknown,
  where: string,
): Omit<ModelChoice, "weights"> {
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new UsageError(`${where} must hold a JSON object of config fields`);
  }
  const { classNames, categoryIds, batchNormEps, ...options } = json as Record<string, unknown>;
  if (
    batchNormEps !== undefined &&
    !(typeof batchNormEps === "number" && batchNormEps >= 0 && batchNormEps <= 1)
  ) {
    throw new UsageError(`${where}: "batchNormEps" must be a number in [0, 1]`);
  }
  if (classNames !== undefined) {
    if (!Array.isArray(classNames) || !classNames.every((n) => typeof n === "string")) {
      throw new UsageError(`${where}: "classNames" must be an array of strings`);
    }
  }
  if (categoryIds !== undefined) {
    if (!Array.isArray(categoryIds) || !categoryIds.every((n) => Number.isInteger(n))) {
      throw new UsageError(`${where}: "categoryIds" must be an array of integers`);
    }
  }
  return {
    options: options as ModelChoice["options"],
    classNames: classNames as string[] | undefined,
    categoryIds: categoryIds as number[] | undefined,
    batchNormEps: batchNormEps as number | undefined,
  };
}

/**
 * Class names by label for drawing: the config file's `classNames` (must have numClasses entries), COCO's
 * names for 91-class models, otherwise undefined (labels are drawn as numbers).
 *
 * @example
 * ```ts
 * import { classNamesFor } from "./_common.ts";
 * console.log(classNamesFor({ numClasses: 91 } as never, undefined)?.[1]); // "person"
 * ```
 */
export function classNamesFor(
  config: MaskRcnnConfig,
  fromConfig: readonly string[] | undefined,
): readonly string[] | undefined {
  if (fromConfig !== undefined) {
    if (fromConfig.length !== config.numClasses) {
      throw new UsageError(
        `--config: "classNames" has ${fromConfig.length} names but the model has numClasses = ` +
          `${config.numClasses} (background included)`,
      );
    }
    return fromConfig;
  }
  return config.numClasses === COCO_CLASS_NAMES.length ? COCO_CLASS_NAMES : undefined;
}

/**
 * The config file's `categoryIds` as an array indexed by label (entry 0, background, is unused):
 * `numClasses - 1` entries are for labels 1.. (as a COCO dataset's sorted category ids), `numClasses`
 * entries are already indexed by label. Undefined when the config file has none.
 *
 * @example
 * ```ts
 * import { categoryIdsByLabel } from "./_common.ts";
 * console.log(categoryIdsByLabel(3, [5, 9])); // [ -1, 5, 9 ]
 * ```
 */
export function categoryIdsByLabel(
  numClasses: number,
  ids: readonly number[] | undefined,
): number[] | undefined {
  if (ids === undefined) return undefined;
  if (ids.length === numClasses - 1) return [-1, ...ids];
  if (ids.length === numClasses) return [...ids];
  throw new UsageError(
    `--config: "categoryIds" has ${ids.length} entries; numClasses = ${numClasses} needs ${
      numClasses - 1
    } (labels 1..) or ${numClasses} (indexed by label)`,
  );
}

/**
 * Milliseconds since `start` (from `performance.now()`), rounded to 0.1 ms.
 *
 * @example
 * ```ts
 * import { elapsedMs } from "./_common.ts";
 * const start = performance.now();
 * console.log(elapsedMs(start) >= 0); // true
 * ```
 */
export function elapsedMs(start: number): number {
  return Math.round((performance.now() - start) * 10) / 10;
}
