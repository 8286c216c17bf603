/**
 * Segmented sort shared by {@link topk} and NMS: orders each segment's items (flat indices into a score
 * tensor) by score descending, index ascending, without any read-back. Segment sizes live on the GPU
 * (`table`), so the grid is a CPU-side bound; see `shaders/sort.wgsl.ts` for the algorithm.
 * @module
 */
import { BLOCK_SORT_WGSL, MERGE_RANK_WGSL, SORT_BLOCK } from "../shaders/sort.wgsl.ts";
import { dispatch, params } from "./kernel.ts";
import { emptyTensor, type Tensor, tidy } from "./tensor.ts";

/** How the workgroups of {@link segmentedSort} map to segments. */
export type SortGrid =
  /** Grid (⌈maxCount/256⌉, segments): for few segments of similar size. */
  | { kind: "per-segment"; maxCount: number }
  /** 1-D grid over all blocks; `table[g].w` = first block of segment g; `totalItems` bounds Σ counts. */
  | { kind: "flat"; totalItems: number };

/**
 * Sorts the items of every segment g (`items[table[g].x ..+ table[g].y]`, u32 flat indices into `scores`)
 * by (score desc, index asc) into `outIdx` (i32, item % rowLen) and `outVal` (f32 scores) at the same
 * positions; positions [count, padCap) of each segment get -1 / -inf. table: u32 `[numSegs, 4]`.
 *
 * @example
 * ```ts
 * import { getGpu, readTensors, tensorFromArray } from "./mod.ts";
 * import { segmentedSort } from "./sort.ts";
 * await getGpu();
 * const scores = tensorFromArray(new Float32Array([0.2, 0.9, 0.5]), [3]);
 * const items = tensorFromArray(new Uint32Array([0, 1, 2]), [3]);
 * const table = tensorFromArray(new Uint32Array([0, 3, 0, 0]), [1, 4]);
 * const idx = tensorFromArray(new Int32Array(3), [3]);
 * const val = tensorFromArray(new Float32Array(3), [3]);
 * segmentedSort(scores, items, table, 1, idx, val, 3, 0, { kind: "per-segment", maxCount: 3 });
 * console.log((await readTensors([idx]))[0]); // [1, 2, 0]
 * ```
 */
export function segmentedSort(
  scores: Tensor,
  items: Tensor,
  table: Tensor,
  numSegs: number,
  outIdx: Tensor,
  outVal: Tensor,
  rowLen: number,
  padCap: number,
  grid: SortGrid,
): void {
  const flat = grid.kind === "flat";
  const workgroups: number | [number, number, number] = flat
    ? Math.ceil(grid.totalItems / SORT_BLOCK) + numSegs
    : [Math.max(1, Math.ceil(Math.max(grid.maxCount, padCap) / SORT_BLOCK)), numSegs, 1];
  const sortParams = params(["u32", rowLen], ["u32", padCap], ["u32", numSegs], ["u32", flat ? 1 : 0]);
  tidy(() => {
    const blocks = emptyTensor([items.size, 2], "u32");
    dispatch({ key: "sort/block", source: BLOCK_SORT_WGSL }, {
      op: "sort",
      tensors: [["scores", scores], ["items", items], ["table", table], ["blocks", blocks]],
      params: sortParams,
      workgroups,
    });
    dispatch({ key: "sort/merge-rank", source: MERGE_RANK_WGSL }, {
      op: "sort",
      tensors: [["scores", scores], ["blocks", blocks], ["table", table], ["indices", outIdx], [
        "values",
        outVal,
      ]],
      params: sortParams,
      workgroups,
    });
    return null;
  });
}
