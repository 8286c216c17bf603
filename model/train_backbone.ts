/**
 * Training forward and backward of the ResNet body and the FPN. The forward keeps what backward needs
 * (each conv's input and output) — the llm.c way: explicit per-layer backward calls in reverse order, no
 * tape machinery. Frozen ResNet stages (`trainableBackboneLayers`) run as in inference and get neither
 * parameter nor input gradients.
 * @module
 */
import { conv2d, type PackedConv2d } from "../ops/conv2d.ts";
import { conv2dBackward } from "../ops/conv2d_backward.ts";
import { addInto } from "../ops/elementwise.ts";
import { maxPool2d, maxPool2dBackward } from "../ops/pool.ts";
import type { Tensor } from "../ops/tensor.ts";
import { upsampleNearest, upsampleNearestBackward } from "../ops/upsample.ts";
import type { MaskRcnnConfig } from "./config.ts";
import type { BottleneckParams, ModelParams } from "./params.ts";
import type { LayerGrads } from "./train_params.ts";

/** What one bottleneck's backward needs. */
interface BlockRecord {
  block: BottleneckParams;
  x: Tensor;
  a: Tensor;
  b: Tensor;
  identity: Tensor;
  out: Tensor;
}

/** Saved activations of the training forward. */
export interface BackboneTape {
  /** Per trainable stage, its blocks' records. */
  blocks: BlockRecord[][];
  /** Index of the first trainable stage (0 = layer1); stages before it are frozen. */
  firstTrainableStage: number;
  /** The stem's input, ReLU output and max-pool output when the stem trains (trainableBackboneLayers 5). */
  stem: { images: Tensor; out: Tensor; pooled: Tensor } | null;
  /** C2..C5. */
  features: Tensor[];
  /** The FPN's merged inner maps (lateral + top-down), per level 0..3. */
  inner: Tensor[];
  /** P2..P6. */
  pyramid: Tensor[];
}

function firstTrainable(config: MaskRcnnConfig): number {
  // torchvision trains layer4 .. layer(5 − n); conv1 (the stem) only with n = 5.
  return Math.max(0, 4 - config.trainableBackboneLayers);
}

/**
 * ResNet + FPN forward for training. images: [B, H, W, 3] → tape with P2..P6.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { backboneForwardTrain } from "./train_backbone.ts";
 * import { buildModel } from "./mask_rcnn.ts";
 * import { initWeights } from "./init.ts";
 * import { tensorFromArray } from "../ops/tensor.ts";
 * const model = await buildModel({ preset: "small" });
 * initWeights(model, { seed: 1 });
 * const images = tensorFromArray(Float32Array.from({ length: 64 * 64 * 3 }, (_, i) => Math.sin(i)), [1, 64, 64, 3]);
 * const tape = backboneForwardTrain(model.config, model.params!, images);
 * assert.deepStrictEqual(tape.pyramid.map((p) => p.shape[1]), [16, 8, 4, 2, 1]); // P2..P6
 * assert.strictEqual(tape.firstTrainableStage, 1); // trainableBackboneLayers 3: layer2..layer4 record
 * ```
 */
export function backboneForwardTrain(
  config: MaskRcnnConfig,
  params: ModelParams,
  images: Tensor,
): BackboneTape {
  const first = firstTrainable(config);
  const stemOut = conv2d(images, params.stem, { stride: 2, padding: 3, relu: true });
  let x = maxPool2d(stemOut, { kernel: 3, stride: 2, padding: 1 });
  const stem = config.trainableBackboneLayers >= 5 ? { images, out: stemOut, pooled: x } : null;
  const features: Tensor[] = [];
  const blocks: BlockRecord[][] = [];
  params.layers.forEach((stage, s) => {
    const records: BlockRecord[] = [];
    for (const block of stage) {
      const identity = block.downsample ? conv2d(x, block.downsample, { stride: block.stride }) : x;
      const a = conv2d(x, block.conv1, { relu: true });
      const b = conv2d(a, block.conv2, { stride: block.stride, padding: 1, relu: true });
      const out = conv2d(b, block.conv3, { residual: identity, relu: true });
      records.push({ block, x, a, b, identity, out });
      x = out;
    }
    if (s >= first) blocks.push(records);
    features.push(x);
  });
  const last = features.length - 1;
  const inner: Tensor[] = [];
  inner[last] = conv2d(features[last], params.fpnInner[last]);
  for (let i = last - 1; i >= 0; i--) {
    const [, h, w] = features[i].shape;
    inner[i] = conv2d(features[i], params.fpnInner[i], { residual: upsampleNearest(inner[i + 1], h, w) });
  }
  const pyramid = inner.map((t, i) => conv2d(t, params.fpnLayer[i], { padding: 1 }));
  pyramid.push(maxPool2d(pyramid[last], { kernel: 1, stride: 2, padding: 0 }));
  return { blocks, firstTrainableStage: first, stem, features, inner, pyramid };
}

function convBackward(
  x: Tensor,
  packed: PackedConv2d,
  options: { stride?: number; padding?: number; relu?: boolean; hasResidual?: boolean },
  out: Tensor,
  gradOut: Tensor,
  grads: Map<object, LayerGrads>,
  needInput: boolean,
) {
  return conv2dBackward(x, packed, gradOut, grads.get(packed) ?? {}, {
    ...options,
    out,
    needInputGrad: needInput,
  });
}

/**
 * Backward of {@link backboneForwardTrain}: pyramidGrads are the gradients of P2..P6 (from the RPN and
 * RoI heads); accumulates every trainable parameter's gradient.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { fill } from "../ops/elementwise.ts";
 * import { backboneBackward, backboneForwardTrain } from "./train_backbone.ts";
 * import { buildModel } from "./mask_rcnn.ts";
 * import { initWeights } from "./init.ts";
 * import { createOptimizer } from "./optimizer.ts";
 * import { layerGradients } from "./train_params.ts";
 * import { tensorFromArray } from "../ops/tensor.ts";
 * const model = await buildModel({ preset: "small" });
 * initWeights(model, { seed: 1 });
 * const params = model.params!;
 * const opt = createOptimizer(model, { type: "sgd", lr: 0.01 });
 * const grads = layerGradients(model.config, params, opt.entries); // layer → its gradient tensors in `opt`
 * const images = tensorFromArray(Float32Array.from({ length: 64 * 64 * 3 }, (_, i) => Math.sin(i)), [1, 64, 64, 3]);
 * const tape = backboneForwardTrain(model.config, params, images);
 * const pyramidGrads = tape.pyramid.map((p) => fill(p.shape, 1e-3)); // dLoss/dP2..P6 from the heads
 * backboneBackward(params, tape, pyramidGrads, grads);
 * const g = await grads.get(params.fpnLayer[0])!.weight!.read();
 * assert.ok(g.some((v) => v !== 0)); // the FPN's 3×3 output conv received a gradient
 * ```
 */
export function backboneBackward(
  params: ModelParams,
  tape: BackboneTape,
  pyramidGrads: Tensor[],
  grads: Map<object, LayerGrads>,
): void {
  const last = tape.inner.length - 1;
  // P6 = maxpool(P5, 1×1, stride 2).
  addInto(
    pyramidGrads[last],
    maxPool2dBackward(tape.pyramid[last], pyramidGrads[last + 1], {
      kernel: 1,
      stride: 2,
      padding: 0,
    }),
  );
  // FPN: inner_i = lateral_i(C_i) + up(inner_{i+1}); P_i = layer_i(inner_i). Walk from the finest level up.
  const featureGrads: Tensor[] = [];
  let gradFromBelow: Tensor | null = null;
  for (let i = 0; i <= last; i++) {
    const gInner = convBackward(
      tape.inner[i],
      params.fpnLayer[i],
      { padding: 1 },
      tape.pyramid[i],
      pyramidGrads[i],
      grads,
      true,
    )
      .gradInput!;
    if (gradFromBelow) {
      const [, h, w] = tape.inner[i].shape;
      addInto(gInner, upsampleNearestBackward(gradFromBelow, h, w));
    }
    const needC = i + 1 >= tape.firstTrainableStage + 1; // C_i is stage i's output
    const r = convBackward(
      tape.features[i],
      params.fpnInner[i],
      { hasResidual: i < last },
      tape.inner[i],
      gInner,
      grads,
      needC,
    );
    featureGrads.push(r.gradInput as Tensor);
    gradFromBelow = gInner;
  }
  // ResNet, from layer4 down to the first trainable stage.
  let g: Tensor | null = null;
  for (let s = tape.blocks.length - 1; s >= 0; s--) {
    const stage = s + tape.firstTrainableStage;
    g = g ? addInto(g, featureGrads[stage]) : featureGrads[stage];
    const records = tape.blocks[s];
    for (let k = records.length - 1; k >= 0; k--) {
      const needInput = !(s === 0 && k === 0) || tape.stem !== null;
      g = blockBackward(records[k], g!, grads, needInput);
    }
  }
  if (tape.stem && g) {
    const gStem = maxPool2dBackward(tape.stem.out, g, { kernel: 3, stride: 2, padding: 1 });
    convBackward(
      tape.stem.images,
      params.stem,
      { stride: 2, padding: 3, relu: true },
      tape.stem.out,
      gStem,
      grads,
      false,
    );
  }
}

function blockBackward(
  rec: BlockRecord,
  gOut: Tensor,
  grads: Map<object, LayerGrads>,
  needInput: boolean,
): Tensor | null {
  const { block } = rec;
  const r3 = convBackward(rec.b, block.conv3, { relu: true, hasResidual: true }, rec.out, gOut, grads, true);
  const r2 = convBackward(
    rec.a,
    block.conv2,
    { stride: block.stride, padding: 1, relu: true },
    rec.b,
    r3.gradInput!,
    grads,
    true,
  );
  const r1 = convBackward(rec.x, block.conv1, { relu: true }, rec.a, r2.gradInput!, grads, needInput);
  if (block.downsample) {
    const rd = convBackward(
      rec.x,
      block.downsample,
      { stride: block.stride },
      rec.identity,
      r3.gradPreActivation,
      grads,
      needInput,
    );
    return needInput ? addInto(r1.gradInput!, rd.gradInput!) : null;
  }
  return needInput ? addInto(r1.gradInput!, r3.gradPreActivation) : null;
}
