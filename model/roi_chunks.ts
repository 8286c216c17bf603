/**
 * Runs a per-RoI computation over chunks of RoIs so that no intermediate tensor exceeds the adapter's
 * storage-binding limit (128 MiB on lavapipe: 8 images × 100 detections of the mask head's 28×28×256
 * activations would be 640 MB), then joins the chunks' outputs along the RoI axis.
 * @module
 */
import { currentGpu } from "../ops/gpu.ts";
import type { OccupiedRows } from "../ops/kernel.ts";
import { concatLastAxis, gatherRows } from "../ops/gather.ts";
import { type Tensor, tensorFromArray, tidy } from "../ops/tensor.ts";

/**
 * The number of RoIs per chunk when each RoI needs `bytesPerRoi` bytes in the largest intermediate tensor
 * (at least 1, at most `rows`).
 *
 * @example
 * ```ts
 * import { roiChunkRows } from "./roi_chunks.ts";
 * // mask head of R50: 28·28·256 floats per RoI
 * console.log(roiChunkRows(800, 28 * 28 * 256 * 4, 128 * 2 ** 20)); // 167
 * ```
 */
export function roiChunkRows(rows: number, bytesPerRoi: number, limit: number): number {
  return Math.max(1, Math.min(rows, Math.floor(limit / bytesPerRoi)));
}

/**
 * `fn(chunks)` for consecutive row chunks of the per-RoI `inputs` (all with R rows, any 32-bit dtype);
 * every output of `fn` is [r, ...rest] and the results are concatenated into [R, ...rest]. With one chunk
 * `fn` runs on `inputs` directly and gets `occupied` (the rows holding real work) to pass on to its ops;
 * split into chunks, every chunk runs whole.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { getGpu } from "../ops/gpu.ts";
 * import { mul } from "../ops/elementwise.ts";
 * import { tensorFromArray } from "../ops/tensor.ts";
 * import { mapRoiChunks } from "./roi_chunks.ts";
 * await getGpu();
 * // Per-RoI work whose output would exceed one binding is split into row chunks and joined again.
 * const rois = tensorFromArray(new Float32Array([1, 2, 3, 4, 5, 6]), [3, 2]);
 * const [squared] = mapRoiChunks([rois], 2 * 4, ([r]) => [mul(r, r)]);
 * assert.deepStrictEqual(squared.shape, [3, 2]);
 * assert.deepStrictEqual(await squared.read(), new Float32Array([1, 4, 9, 16, 25, 36]));
 * ```
 */
export function mapRoiChunks(
  inputs: readonly Tensor[],
  bytesPerRoi: number,
  fn: (chunks: Tensor[], occupied?: OccupiedRows) => Tensor[],
  occupied?: OccupiedRows,
): Tensor[] {
  const rows = inputs[0].shape[0];
  const limit = currentGpu().limits.maxStorageBufferBindingSize;
  const chunk = roiChunkRows(rows, bytesPerRoi, limit);
  if (chunk >= rows) return fn([...inputs], occupied);
  return tidy(() => {
    const parts: Tensor[][] = [];
    for (let start = 0; start < rows; start += chunk) {
      const count = Math.min(chunk, rows - start);
      const index = tensorFromArray(Int32Array.from({ length: count }, (_, i) => start + i), [count]);
      parts.push(fn(inputs.map((t) => gatherRows(t, index))));
    }
    return parts[0].map((first, k) => {
      const rest = first.shape.slice(1);
      const flat = parts.map((p) => p[k].reshape([1, p[k].size]));
      return concatLastAxis(flat).reshape([rows, ...rest]);
    });
  });
}

/**
 * Calls `fn(chunks)` for consecutive row chunks of the per-RoI `inputs` (no outputs are joined: for
 * training, where each chunk's loss and gradients accumulate).
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { getGpu } from "../ops/gpu.ts";
 * import { tensorFromArray } from "../ops/tensor.ts";
 * import { forEachRoiChunk } from "./roi_chunks.ts";
 * await getGpu();
 * const rois = tensorFromArray(new Float32Array(4 * 5), [4, 5]);
 * let rows = 0;
 * forEachRoiChunk([rois], 5 * 4, ([chunk]) => {
 *   rows += chunk.shape[0]; // a training loss would accumulate here
 * });
 * assert.strictEqual(rows, 4); // every RoI is visited once
 * ```
 */
export function forEachRoiChunk(
  inputs: readonly Tensor[],
  bytesPerRoi: number,
  fn: (chunks: Tensor[]) => void,
): void {
  const rows = inputs[0].shape[0];
  const chunk = roiChunkRows(rows, bytesPerRoi, currentGpu().limits.maxStorageBufferBindingSize);
  if (chunk >= rows) return fn([...inputs]);
  for (let start = 0; start < rows; start += chunk) {
    const count = Math.min(chunk, rows - start);
    const index = tensorFromArray(Int32Array.from({ length: count }, (_, i) => start + i), [count]);
    fn(inputs.map((t) => gatherRows(t, index)));
  }
}
