/**
 * The COCO-evaluation section: runs `tools/bench_coco_eval.ts` (5,000 images × 100 detections, bbox and
 * segm) in its own process; with `PYCOCOTOOLS_PATH` set it times pycocotools on the same data as well.
 * @module
 */
import type { BenchRow } from "./_report.ts";

/** Evaluation time of 5,000 images, ours and (when available) pycocotools', and their ratio. */
export async function benchCocoEval(): Promise<BenchRow[]> {
  const script = new URL("../bench_coco_eval.ts", import.meta.url).pathname;
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", "--allow-env", "--allow-run", script, "--json"],
  }).output();
  if (code !== 0) throw new Error(`bench_coco_eval.ts failed: ${new TextDecoder().decode(stderr)}`);
  const figures = JSON.parse(new TextDecoder().decode(stdout).trim().split("\n").at(-1)!);
  const rows: BenchRow[] = [];
  for (const [suffix, label] of [["", "bbox"], ["_segm", "segm"]]) {
    const ours = figures[`coco_eval${suffix}_5000_ms`];
    if (typeof ours === "number") {
      rows.push({
        label: `COCO eval ${label}, 5,000 images × 100 dets`,
        value: ours,
        unit: "ms",
        key: `coco_eval${suffix}_5000_ms`,
      });
    }
    const theirs = figures[`pycocotools_eval${suffix}_5000_ms`];
    if (typeof theirs === "number") {
      rows.push({
        label: `  pycocotools ${label}`,
        value: theirs,
        unit: "ms",
        key: `pycocotools_eval${suffix}_5000_ms`,
      });
      rows.push({
        label: `  speed ratio ${label}`,
        value: theirs / ours,
        unit: "×",
        key: `coco_eval${suffix}_speed_ratio`,
      });
    }
  }
  return rows;
}
