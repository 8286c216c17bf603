/**
 * The ResNet body (torchvision `resnet.ResNet` with Bottleneck blocks and frozen batch norm, folded into the
 * convs at load time). Stride sits on the 3×3 conv (ResNet v1.5, as torchvision). The residual add and the
 * final ReLU of each block are fused into the epilogue of its last 1×1 conv.
 * @module
 */
import { conv2d } from "../ops/conv2d.ts";
import { maxPool2d } from "../ops/pool.ts";
import { type Tensor, tidy } from "../ops/tensor.ts";
import type { BottleneckParams, ModelParams } from "./params.ts";

function bottleneck(x: Tensor, block: BottleneckParams): Tensor {
  return tidy(() => {
    const identity = block.downsample ? conv2d(x, block.downsample, { stride: block.stride }) : x;
    const a = conv2d(x, block.conv1, { relu: true });
    const b = conv2d(a, block.conv2, { stride: block.stride, padding: 1, relu: true });
    return conv2d(b, block.conv3, { residual: identity, relu: true });
  });
}

/**
 * images: [N, H, W, 3] f32 (normalised, padded) → [C2, C3, C4, C5], strides 4, 8, 16, 32, NHWC.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { resnetForward } from "./resnet.ts";
 * import { buildModel } from "./mask_rcnn.ts";
 * import { initWeights } from "./init.ts";
 * import { tensorFromArray } from "../ops/tensor.ts";
 * const model = await buildModel({ preset: "small" });
 * initWeights(model, { seed: 1 });
 * const params = model.params!;
 * // One normalised 64×64 image, NHWC (transformImages makes these from pixels).
 * const images = tensorFromArray(Float32Array.from({ length: 64 * 64 * 3 }, (_, i) => Math.sin(i)), [1, 64, 64, 3]);
 * const [c2, c3, c4, c5] = resnetForward(params, images);
 * assert.deepStrictEqual([c2.shape, c3.shape, c4.shape, c5.shape], [
 *   [1, 16, 16, 256],
 *   [1, 8, 8, 512],
 *   [1, 4, 4, 1024],
 *   [1, 2, 2, 2048],
 * ]);
 * ```
 */
export function resnetForward(params: ModelParams, images: Tensor): Tensor[] {
  return tidy(() => {
    const stem = conv2d(images, params.stem, { stride: 2, padding: 3, relu: true });
    let x = maxPool2d(stem, { kernel: 3, stride: 2, padding: 1 });
    const outputs: Tensor[] = [];
    for (const stage of params.layers) {
      for (const block of stage) x = bottleneck(x, block);
      outputs.push(x);
    }
    return outputs;
  });
}
