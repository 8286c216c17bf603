/**
 * The feature pyramid (torchvision `FeaturePyramidNetwork` + `LastLevelMaxPool`): 1×1 laterals, top-down
 * nearest upsampling to each lateral's size (the add fused into the lateral conv's epilogue), 3×3 outputs,
 * and P6 as a 1×1 stride-2 max pool of P5.
 * @module
 */
import { conv2d } from "../ops/conv2d.ts";
import { maxPool2d } from "../ops/pool.ts";
import { type Tensor, tidy } from "../ops/tensor.ts";
import { upsampleNearest } from "../ops/upsample.ts";
import type { ModelParams } from "./params.ts";

/**
 * [C2, C3, C4, C5] → [P2, P3, P4, P5, P6], each [N, Hl, Wl, fpnChannels].
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { fpnForward } from "./fpn.ts";
 * import { resnetForward } from "./resnet.ts";
 * import { buildModel } from "./mask_rcnn.ts";
 * import { initWeights } from "./init.ts";
 * import { tensorFromArray } from "../ops/tensor.ts";
 * const model = await buildModel({ preset: "small" });
 * initWeights(model, { seed: 1 });
 * const params = model.params!;
 * // One normalised 64×64 image, NHWC (transformImages makes these from pixels).
 * const images = tensorFromArray(Float32Array.from({ length: 64 * 64 * 3 }, (_, i) => Math.sin(i)), [1, 64, 64, 3]);
 * const pyramid = fpnForward(params, resnetForward(params, images));
 * assert.deepStrictEqual(pyramid.map((p) => p.shape), [
 *   [1, 16, 16, 64], // P2 (fpnChannels 64 in the small preset)
 *   [1, 8, 8, 64],
 *   [1, 4, 4, 64],
 *   [1, 2, 2, 64],
 *   [1, 1, 1, 64], // P6: max-pool of P5
 * ]);
 * ```
 */
export function fpnForward(params: ModelParams, features: readonly Tensor[]): Tensor[] {
  return tidy(() => {
    const last = features.length - 1;
    let inner = conv2d(features[last], params.fpnInner[last]);
    const outputs: Tensor[] = [conv2d(inner, params.fpnLayer[last], { padding: 1 })];
    for (let i = last - 1; i >= 0; i--) {
      const [, h, w] = features[i].shape;
      const topDown = upsampleNearest(inner, h, w);
      inner = conv2d(features[i], params.fpnInner[i], { residual: topDown });
      outputs.unshift(conv2d(inner, params.fpnLayer[i], { padding: 1 }));
    }
    outputs.push(maxPool2d(outputs[last], { kernel: 1, stride: 2, padding: 0 }));
    return outputs;
  });
}
