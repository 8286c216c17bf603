/**
 * Between flag vectors and −1-padded index lists on the GPU: {@link indexValid} (index list → flags) and
 * {@link compactFlags} (flags → the index list of the flagged positions and their count).
 * @module
 */
import { COMPACT_FLAGS_WGSL, COMPACT_WORKGROUP, INDEX_VALID_WGSL } from "../shaders/compact.wgsl.ts";
import { WORKGROUP_1D } from "../shaders/common.wgsl.ts";
import { dispatch, params } from "./kernel.ts";
import { emptyTensor, type Tensor } from "./tensor.ts";
import { assertDType } from "./validate.ts";

const groups = (n: number) => Math.ceil(n / WORKGROUP_1D);

/**
 * idx: any shape i32 → u32 of the same shape, 1 where idx ≥ 0 (keep lists are −1 padded).
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { indexValid } from "./compact.ts";
 * import { getGpu } from "./gpu.ts";
 * import { tensorFromArray } from "./tensor.ts";
 * await getGpu();
 * const valid = await indexValid(tensorFromArray(new Int32Array([3, -1]), [2])).read();
 * assert.deepStrictEqual(valid, new Uint32Array([1, 0]));
 * ```
 */
export function indexValid(idx: Tensor): Tensor {
  const op = "indexValid";
  assertDType(op, "idx", idx.check(op, "idx"), ["i32"]);
  const out = emptyTensor(idx.shape, "u32");
  if (idx.size === 0) return out;
  dispatch({ key: "detection/index_valid", source: INDEX_VALID_WGSL }, {
    op,
    tensors: [["idx", idx], ["valid", out]],
    params: params(["u32", idx.size]),
    workgroups: groups(idx.size),
  });
  return out;
}

/**
 * Stable compaction of a flag vector on the GPU: flags: [n] u32 → `index` [n] i32 (the flagged
 * positions in order, then −1) and `total` [1] u32 (how many): gather rows with `index` to move the flagged
 * slots of several images to the front, where ops bounded by `total` ({@link OccupiedRows}) cost only
 * what they hold.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { getGpu } from "./gpu.ts";
 * import { readTensors, tensorFromArray } from "./tensor.ts";
 * import { compactFlags } from "./compact.ts";
 * await getGpu();
 * const { index, total } = compactFlags(tensorFromArray(new Uint32Array([0, 1, 1, 0, 1]), [5]));
 * const [idx, count] = await readTensors([index, total]);
 * assert.deepStrictEqual(idx, new Int32Array([1, 2, 4, -1, -1]));
 * assert.deepStrictEqual(count, new Uint32Array([3]));
 * ```
 */
export function compactFlags(flags: Tensor): { index: Tensor; total: Tensor } {
  const op = "compactFlags";
  assertDType(op, "flags", flags.check(op, "flags"), ["u32"]);
  const n = flags.size;
  const index = emptyTensor([n], "i32");
  const total = emptyTensor([1], "u32");
  dispatch({ key: "detection/compact_flags", source: COMPACT_FLAGS_WGSL }, {
    op,
    tensors: [["flags", flags], ["index", index], ["total", total]],
    params: params(["u32", n], ["u32", Math.ceil(n / COMPACT_WORKGROUP)]),
    workgroups: 1,
  });
  return { index, total };
}
