/**
 * Output files of the commands, decided before any work: {@link prepareOutputFolder} creates a folder and
 * proves it writable; {@link planDetectOutputs} names `detect`'s overlays and results file so that no
 * output can land on an input, and refuses (without `--overwrite`) to replace files of earlier runs.
 *
 * Decisions: names are compared by real path (symbolic links resolved), so an input reached through a link
 * or given with another spelling is still recognised. An overlay is `<stem>_det.png`; if that name is an
 * input (e.g. `--out` is the input folder and holds `cat_det.png`) or another overlay of this run, the
 * next free `<stem>_<n>_det.png` is used. `results.json` is never renamed: if it is an input, the run is
 * refused even with `--overwrite`.
 * @module
 */
import { basename, extname, join } from "node:path";
import { UsageError } from "./_common.ts";

/**
 * Creates `dir` (and its parents) if missing and checks that a file can be created in it, by writing and
 * removing an empty probe file; a {@link UsageError} naming `what` otherwise. Call it before the work
 * whose results go there.
 *
 * @example
 * ```ts
 * import { prepareOutputFolder } from "./_output.ts";
 * await prepareOutputFolder("--out", "detections");
 * ```
 */
export async function prepareOutputFolder(what: string, dir: string): Promise<void> {
  try {
    await Deno.mkdir(dir, { recursive: true });
  } catch (e) {
    throw new UsageError(`${what}: cannot create the folder ${dir} (${(e as Error).message})`);
  }
  let probe: string;
  try {
    probe = await Deno.makeTempFile({ dir, prefix: ".write_test_" });
  } catch (e) {
    throw new UsageError(`${what}: cannot write files in ${dir} (${(e as Error).message})`);
  }
  await Deno.remove(probe);
}

/** Real path of `path`, or undefined if it does not exist (a dangling link counts as existing). */
async function realPathOf(path: string): Promise<string | undefined> {
  try {
    return await Deno.realPath(path);
  } catch {
    return undefined;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Where `detect` writes: one overlay per input (same order) and the results file. */
export interface DetectOutputs {
  /** Overlay PNG path per input image, in `out` as the user spelled it. */
  overlays: string[];
  /** The COCO results file, `<out>/results.json`. */
  results: string;
}

/**
 * Names `detect`'s outputs in `out` (which must exist) for the input `files`: no output is an input, no two
 * outputs share a name, and an existing file is replaced only with `overwrite` (never an input). Throws a
 * {@link UsageError} listing the files in the way.
 *
 * @example
 * ```ts
 * import { planDetectOutputs } from "./_output.ts";
 * const { overlays, results } = await planDetectOutputs("out", ["a.png", "b/a.png"], false);
 * console.log(overlays, results); // [ "out/a_det.png", "out/a_1_det.png" ] out/results.json
 * ```
 */
export async function planDetectOutputs(
  out: string,
  files: readonly string[],
  overwrite: boolean,
): Promise<DetectOutputs> {
  const inputs = new Set<string>();
  for (const file of files) inputs.add((await realPathOf(file)) ?? file);
  const outReal = (await realPathOf(out)) ?? out;
  const used = new Set<string>();
  const inTheWay: string[] = [];
  /** Whether `name` may be written in `out`; records an existing non-input file when not overwriting. */
  const usable = async (name: string): Promise<boolean> => {
    if (used.has(name)) return false;
    const inOut = join(outReal, name);
    if (inputs.has(inOut) || inputs.has((await realPathOf(inOut)) ?? "")) return false;
    used.add(name);
    if (!overwrite && await exists(inOut)) inTheWay.push(join(out, name));
    return true;
  };
  if (!await usable("results.json")) {
    throw new UsageError(
      `--out ${out}: results.json there is one of the input images; detect never writes over an input ` +
        "(choose another --out)",
    );
  }
  const overlays: string[] = [];
  for (const file of files) {
    const stem = basename(file, extname(file));
    let name = `${stem}_det.png`;
    for (let n = 1; !await usable(name); n++) name = `${stem}_${n}_det.png`;
    overlays.push(join(out, name));
  }
  if (inTheWay.length > 0) {
    const shown = inTheWay.slice(0, 3).join(", ") + (inTheWay.length > 3 ? `, … (${inTheWay.length})` : "");
    throw new UsageError(
      `--out ${out} already holds files this run would write (${shown}); pass --overwrite to replace ` +
        "them, or choose another --out",
    );
  }
  return { overlays, results: join(out, "results.json") };
}
