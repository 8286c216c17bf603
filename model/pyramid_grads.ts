/**
 * The gradient w.r.t. the FPN pyramid that the heads' backward passes add into before the backbone's
 * backward: one slot per level, empty until a head contributes. Each head's backward adds its part in
 * place (`addInto`), so the order in which the heads run their backward fixes the order of the sums (and
 * with it the last bits of the backbone's gradients): training runs them in stage order, RPN, box, mask.
 * @module
 */
import { addInto } from "../ops/elementwise.ts";
import type { Tensor } from "../ops/tensor.ts";
import type { LayerGrads } from "./train_params.ts";

/** Per pyramid level [P2..P6] its gradient [B, Hl, Wl, C], or null while no head has contributed. */
export type PyramidGrads = (Tensor | null)[];

/** Layer → its gradient tensors (the optimizer's), as `layerGradients` makes them. */
export type HeadGrads = Map<object, LayerGrads>;

/**
 * Adds `g` into `pyramidGrads[level]` (or takes it as the level's first contribution, then updated in place).
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { getGpu } from "../ops/gpu.ts";
 * import { tensorFromArray } from "../ops/tensor.ts";
 * import { addPyramidGrad, type PyramidGrads } from "./pyramid_grads.ts";
 * await getGpu();
 * const grads: PyramidGrads = [null, null];
 * addPyramidGrad(grads, 1, tensorFromArray(new Float32Array([1, 2]), [2]));
 * addPyramidGrad(grads, 1, tensorFromArray(new Float32Array([10, 20]), [2]));
 * assert.strictEqual(grads[0], null);
 * assert.deepStrictEqual(await grads[1]!.read(), new Float32Array([11, 22]));
 * ```
 */
export function addPyramidGrad(pyramidGrads: PyramidGrads, level: number, g: Tensor): void {
  const current = pyramidGrads[level];
  pyramidGrads[level] = current ? addInto(current, g) : g;
}
