/**
 * Helpers for the CLI tests: run `main` in-process collecting its output, and write a small-preset weights
 * file with seeded values (no trained weights are committed) plus shapes images as PNG files.
 * @module
 */
import { main } from "../../cli.ts";
import { encodePng } from "../../data/image_codec.ts";
import { generateShapesItem } from "../../data/shapes.ts";
import { resolveConfig } from "../../model/config.ts";
import { writeSafetensors } from "../../data/weights/safetensors.ts";
import { expectedStateDict } from "../../model/state_dict_names.ts";
import { deterministicTensor } from "../_det_weights.ts";

/** What one in-process CLI run printed and returned. */
export interface CliRun {
  code: number;
  out: string[];
  err: string[];
}

/** Runs `main(args)` with a collecting output sink. */
export async function runCli(args: string[]): Promise<CliRun> {
  const out: string[] = [], err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

/** Parses the last stdout line as JSON (the `--json` contract). */
export function lastJson(run: CliRun): Record<string, unknown> {
  return JSON.parse(run.out[run.out.length - 1]);
}

/**
 * Writes `small.safetensors` (or `small_<numClasses>.safetensors`) into `dir`: every tensor of the `small`
 * preset, filled with the seeded name-derived values of tests/_det_weights.ts (Kaiming-uniform sized; BN
 * near identity). `favour` adds 6 to that label's class logit bias so that a many-class model (whose
 * random scores would all fall under the 0.05 box score threshold) detects that class.
 */
export async function writeSmallWeights(dir: string, numClasses?: number, favour?: number): Promise<string> {
  const config = resolveConfig({ preset: "small", numClasses });
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const { name, shape } of expectedStateDict(config)) {
    tensors.set(name, { shape, data: deterministicTensor(name, shape) });
  }
  if (favour !== undefined) tensors.get("roi_heads.box_predictor.cls_score.bias")!.data[favour] += 6;
  const path = `${dir}/small${numClasses ? `_${numClasses}` : ""}.safetensors`;
  await Deno.writeFile(path, writeSafetensors(tensors));
  return path;
}

/** Writes shapes images `shapes_<seed>.png` of the given sizes into `dir`; returns their paths and items. */
export async function writeShapesPngs(dir: string, sizes: [number, number][], firstSeed = 1) {
  return await Promise.all(sizes.map(async ([width, height], i) => {
    const item = generateShapesItem(firstSeed + i, { width, height });
    const path = `${dir}/shapes_${firstSeed + i}.png`;
    await Deno.writeFile(path, encodePng(item.image.data as Uint8Array, width, height, 3));
    return { path, item };
  }));
}
