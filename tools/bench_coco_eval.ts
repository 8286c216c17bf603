/**
 * Benchmark: COCO evaluation of 5,000 images × 100 detections (synthetic, seeded), TypeScript
 * `evaluateCoco` against pycocotools on the same data, bbox and segm.
 *
 *   deno run --allow-read --allow-write --allow-env --allow-run tools/bench_coco_eval.ts [--json]
 *     [--images 5000] [--dets 100] [--seed 1] [--iou-type bbox|segm|both]
 *
 * With PYCOCOTOOLS_PATH set (a folder holding a built `pycocotools`), the same data is written as JSON to
 * a temp dir and timed with tools/reference/bench_coco_eval_pycocotools.py under /usr/bin/python3 (or
 * $PYTHON); without it the Python side is skipped with a note. Both sides time the work after JSON parsing:
 * indexing, loading results, matching, accumulating, summarizing. Speed ratio = pycocotools ms / TS ms
 * (above 1: TypeScript is faster). With --json the last stdout line is one JSON object with
 * `coco_eval_5000_ms`, `pycocotools_eval_5000_ms`, `coco_eval_speed_ratio` (bbox) and the same keys with
 * `_segm` for segm (null where not measured).
 *
 * Data: 80 categories with COCO-like ids, images 160–320 × 120–240, 1–15 objects per image (5 % crowds),
 * masks are ellipses written straight as column runs; detections are shifted/rescaled copies of ground
 * truths (about 40 %) and random ellipses, with scores rounded to 3 decimals so ties occur.
 * @module
 */
import { evaluateCoco } from "../data/coco_eval.ts";
import type { CocoGroundTruth, CocoGtAnnotation, CocoIouType, CocoResult } from "../data/coco_eval_types.ts";
import { runsArea, runsToBbox } from "../data/rle.ts";
import { rleCountsToString } from "../data/rle_string.ts";

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < Deno.args.length ? Deno.args[i + 1] : fallback;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Canonical column runs (as pycocotools would encode them) of a filled ellipse clipped to the image. */
function ellipseCounts(h: number, w: number, cx: number, cy: number, rx: number, ry: number): number[] {
  const counts: number[] = [];
  let pos = 0;
  const x0 = Math.max(0, Math.ceil(cx - rx)), x1 = Math.min(w - 1, Math.floor(cx + rx));
  for (let x = x0; x <= x1; x++) {
    const f = (x - cx) / rx;
    const half = ry * Math.sqrt(Math.max(0, 1 - f * f));
    const y0 = Math.max(0, Math.ceil(cy - half)), y1 = Math.min(h, Math.floor(cy + half) + 1);
    if (y1 <= y0) continue;
    const start = x * h + y0, end = x * h + y1;
    if (start === pos && counts.length > 0) counts[counts.length - 1] += end - start; // runs on into this column
    else counts.push(start - pos, end - start);
    pos = end;
  }
  if (pos < h * w || counts.length === 0) counts.push(h * w - pos);
  return counts;
}

/** Ground truth and results of one synthetic benchmark run. */
export interface Synthetic {
  gt: CocoGroundTruth;
  results: CocoResult[];
}

/** Seeded synthetic ground truth and results (see the module comment). */
export function makeData(nImages: number, detsPerImage: number, seed: number): Synthetic {
  const rand = mulberry32(seed);
  const catIds: number[] = [];
  for (let id = 1; catIds.length < 80; id++) if (id % 12 !== 0) catIds.push(id); // gaps like COCO's ids
  const images = [], annotations: CocoGtAnnotation[] = [], results: CocoResult[] = [];
  let annId = 1;
  for (let i = 0; i < nImages; i++) {
    const id = 1 + i * 3;
    const height = 120 + Math.floor(rand() * 121), width = 160 + Math.floor(rand() * 161);
    images.push({ id, height, width, file_name: `${id}.jpg` });
    const objects: { cat: number; cx: number; cy: number; rx: number; ry: number }[] = [];
    const nObj = 1 + Math.floor(rand() * 15);
    for (let j = 0; j < nObj; j++) {
      const size = [3, 12, 40][Math.floor(rand() * 3)] * (0.5 + rand());
      const o = {
        cat: catIds[Math.floor(rand() * catIds.length)],
        cx: rand() * width,
        cy: rand() * height,
        rx: size * (0.6 + rand() * 0.8),
        ry: size * (0.6 + rand() * 0.8),
      };
      const counts = ellipseCounts(height, width, o.cx, o.cy, o.rx, o.ry);
      const runs = { height, width, counts: Uint32Array.from(counts) };
      const area = runsArea(runs.counts);
      if (area === 0) continue;
      const box = new Float64Array(4);
      runsToBbox(runs, box, 0);
      objects.push(o);
      annotations.push({
        id: annId++,
        image_id: id,
        category_id: o.cat,
        segmentation: { size: [height, width], counts: rleCountsToString(counts) },
        area,
        bbox: Array.from(box),
        iscrowd: rand() < 0.05 ? 1 : 0,
      });
    }
    for (let d = 0; d < detsPerImage; d++) {
      let cat: number, cx: number, cy: number, rx: number, ry: number;
      if (rand() < 0.4 && objects.length > 0) {
        const o = objects[Math.floor(rand() * objects.length)];
        const s = 0.25 * Math.max(o.rx, o.ry);
        cat = rand() < 0.9 ? o.cat : catIds[Math.floor(rand() * catIds.length)];
        cx = o.cx + (rand() - 0.5) * s;
        cy = o.cy + (rand() - 0.5) * s;
        rx = o.rx * (0.8 + 0.4 * rand());
        ry = o.ry * (0.8 + 0.4 * rand());
      } else {
        const size = [3, 12, 40][Math.floor(rand() * 3)] * (0.5 + rand());
        const local = rand() < 0.6 && objects.length > 0;
        cat = local
          ? objects[Math.floor(rand() * objects.length)].cat
          : catIds[Math.floor(rand() * catIds.length)];
        cx = rand() * width;
        cy = rand() * height;
        rx = size * (0.6 + rand() * 0.8);
        ry = size * (0.6 + rand() * 0.8);
      }
      const counts = ellipseCounts(height, width, cx, cy, rx, ry);
      const runs = { height, width, counts: Uint32Array.from(counts) };
      if (runsArea(runs.counts) === 0) continue;
      const box = new Float64Array(4);
      runsToBbox(runs, box, 0);
      results.push({
        image_id: id,
        category_id: cat,
        bbox: [box[0], box[1], box[2], box[3]].map((v, k) =>
          Math.round((v + (rand() - 0.5) * (k < 2 ? 2 : 3)) * 100) / 100
        ),
        score: Math.round(rand() * 1000) / 1000,
        segmentation: { size: [height, width], counts: rleCountsToString(counts) },
      });
    }
  }
  const categories = catIds.map((id) => ({ id, name: `class_${id}`, supercategory: "thing" }));
  return { gt: { images, annotations, categories }, results };
}

async function runPython(
  pycocotools: string,
  gtPath: string,
  resPath: string,
  types: CocoIouType[],
): Promise<Map<string, { ms: number; stats: number[] }>> {
  const script = new URL("./reference/bench_coco_eval_pycocotools.py", import.meta.url).pathname;
  const python = Deno.env.get("PYTHON") ?? "/usr/bin/python3";
  const out = await new Deno.Command(python, {
    args: [script, pycocotools, gtPath, resPath, ...types],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`pycocotools bench failed:\n${new TextDecoder().decode(out.stderr)}`);
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  return new Map(lines.map((l) => {
    const o = JSON.parse(l);
    return [o.iou_type, { ms: o.ms, stats: o.stats }];
  }));
}

async function main() {
  const nImages = Number(flag("images", "5000")), dets = Number(flag("dets", "100"));
  const seed = Number(flag("seed", "1"));
  const which = flag("iou-type", "both");
  const types: CocoIouType[] = which === "both" ? ["bbox", "segm"] : [which as CocoIouType];
  const asJson = Deno.args.includes("--json");

  const t0 = performance.now();
  const { gt, results } = makeData(nImages, dets, seed);
  console.log(
    `data: ${gt.images.length} images, ${gt.annotations.length} gts, ${results.length} detections ` +
      `(${(performance.now() - t0).toFixed(0)} ms to generate)`,
  );

  const ts = new Map<string, { ms: number; warmMs: number; stats: number[] }>();
  for (const iouType of types) {
    const a = performance.now();
    const { stats } = evaluateCoco(gt, results, { iouType });
    const ms = performance.now() - a;
    const b = performance.now();
    evaluateCoco(gt, results, { iouType });
    ts.set(iouType, { ms, warmMs: performance.now() - b, stats });
  }

  const pycocotools = Deno.env.get("PYCOCOTOOLS_PATH");
  let py = new Map<string, { ms: number; stats: number[] }>();
  if (!pycocotools) {
    console.log("note: PYCOCOTOOLS_PATH is not set; skipping the pycocotools side");
  } else {
    const dir = await Deno.makeTempDir({ prefix: "bench_coco_eval_" });
    try {
      await Deno.writeTextFile(`${dir}/gt.json`, JSON.stringify(gt));
      await Deno.writeTextFile(`${dir}/results.json`, JSON.stringify(results));
      py = await runPython(pycocotools, `${dir}/gt.json`, `${dir}/results.json`, types);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }

  console.log("iouType | TS ms (first / second run) | pycocotools ms | speed ratio | max |Δstats|");
  const summary: Record<string, number | null> = {};
  for (const iouType of types) {
    const t = ts.get(iouType)!, p = py.get(iouType);
    const ratio = p ? p.ms / t.ms : null;
    const diff = p ? Math.max(...t.stats.map((v, i) => Math.abs(v - p.stats[i]))) : null;
    console.log(
      `${iouType.padEnd(7)} | ${t.ms.toFixed(0).padStart(8)} / ${t.warmMs.toFixed(0).padStart(6)}        | ` +
        `${p ? p.ms.toFixed(0).padStart(14) : "     (skipped)"} | ${
          ratio ? ratio.toFixed(1).padStart(10) + "×" : "          -"
        } | ` +
        `${diff === null ? "-" : diff.toExponential(1)}`,
    );
    const suffix = iouType === "bbox" ? "" : "_segm";
    summary[`coco_eval${suffix}_5000_ms`] = Math.round(t.ms * 10) / 10;
    summary[`pycocotools_eval${suffix}_5000_ms`] = p ? Math.round(p.ms * 10) / 10 : null;
    summary[`coco_eval${suffix}_speed_ratio`] = ratio === null ? null : Math.round(ratio * 100) / 100;
  }
  if (nImages !== 5000) console.log(`note: ${nImages} images, not 5000; the JSON keys keep their names`);
  if (asJson) console.log(JSON.stringify(summary));
}

if (import.meta.main) await main();
