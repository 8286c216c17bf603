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
 * // const [c2, c3, c4, c5] = resnetForward(params, batch.images);
 * import { resnetForward } from "./resnet.ts";
 * console.log(typeof resnetForward);
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
