/**
 * Storage for the run lengths of many masks in one growing `Uint32Array`, for the COCO evaluator's segm
 * path: decoding half a million RLE strings into separate typed arrays costs more in allocation and GC than
 * in decoding, so the evaluator decodes into a shared buffer and copies each mask's runs here.
 * @module
 */
import { segmentationToRuns } from "./polygon.ts";
import type { CocoSegmentation } from "./polygon.ts";
import type { RleRuns } from "./rle.ts";
import { rleCountsFromStringShared } from "./rle_string.ts";
import { DataError } from "./errors.ts";

/**
 * An RLE's counts must cover its `height×width` pixels exactly; checked for every RLE as it is added, not
 * only when a mask IoU is computed (pycocotools would loop forever or read past the runs there, and never
 * looks at masks whose boxes do not overlap).
 */
function checkCoverage(counts: Uint32Array, height: number, width: number, what: string): void {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i];
  if (total !== height * width) {
    throw new DataError(
      "bad-rle",
      `${what}: RLE counts cover ${total} pixels but its size ${height}×${width} has ${height * width}`,
      { file: "" },
    );
  }
}

/**
 * Many masks' run lengths in one buffer; `runs()` gives `RleRuns` views once everything is added.
 *
 * @example
 * ```ts
 * import { RunsPool } from "./coco_eval_runs.ts";
 * const pool = new RunsPool();
 * pool.addSegmentation({ size: [2, 2], counts: "13" }, 2, 2, "segmentation");
 * pool.addSegmentation([[1, 1, 3, 1, 3, 3, 1, 3]], 4, 4, "segmentation");
 * console.log(pool.runs().map((r) => Array.from(r.counts))); // [[1, 3], [5, 2, 2, 2, 5]]
 * ```
 */
export class RunsPool {
  #buf = new Uint32Array(1 << 16);
  #used = 0;
  #start: number[] = [];
  #height: number[] = [];
  #width: number[] = [];

  /** Converts a COCO segmentation like `segmentationToRuns` and stores its runs; returns its index. */
  addSegmentation(seg: CocoSegmentation, height: number, width: number, what: string): number {
    if (!Array.isArray(seg) && typeof seg?.counts === "string") {
      const size = seg.size;
      if (
        !Array.isArray(size) || size.length !== 2 || !Number.isInteger(size[0]) ||
        !Number.isInteger(size[1]) ||
        size[0] < 0 || size[1] < 0
      ) {
        throw new DataError("bad-rle", `${what}.size must be [height, width] with non-negative integers`, {
          file: "",
        });
      }
      const counts = rleCountsFromStringShared(seg.counts, `${what}.counts`);
      checkCoverage(counts, size[0], size[1], what);
      return this.#add(counts, size[0], size[1]);
    }
    const runs = segmentationToRuns(seg, height, width, what);
    if (!Array.isArray(seg)) checkCoverage(runs.counts, runs.height, runs.width, what);
    return this.#add(runs.counts, runs.height, runs.width);
  }

  #add(counts: Uint32Array, height: number, width: number): number {
    const need = this.#used + counts.length;
    if (need > this.#buf.length) {
      const bigger = new Uint32Array(Math.max(need, 2 * this.#buf.length));
      bigger.set(this.#buf.subarray(0, this.#used));
      this.#buf = bigger;
    }
    this.#buf.set(counts, this.#used);
    this.#start.push(this.#used);
    this.#height.push(height);
    this.#width.push(width);
    this.#used = need;
    return this.#start.length - 1;
  }

  /** `RleRuns` views of every stored mask, in the order added (views share the pool's buffer). */
  runs(): RleRuns[] {
    const n = this.#start.length, out: RleRuns[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const end = i + 1 < n ? this.#start[i + 1] : this.#used;
      out[i] = {
        height: this.#height[i],
        width: this.#width[i],
        counts: this.#buf.subarray(this.#start[i], end),
      };
    }
    return out;
  }
}
