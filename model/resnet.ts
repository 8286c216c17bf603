/**
 * The ResNet body (torchvision `resnet.ResNet` with Bottleneck blocks and frozen batch norm, folded into the
 * convs at load time), forward and backward side by side (the llm.c pairing). Stride sits on the 3×3 conv
 * (ResNet v1.5, as torchvision). The residual add and the final ReLU of each block are fused into the
 * epilogue of its last 1×1 conv.
 *
 * One forward serves inference and training: given a {@link ResnetTape} it keeps what
 * {@link resnetBackward} needs (each conv's input and output) for the stages that train; frozen stages
 * (torchvision's `trainable_layers`) and inference free every block's intermediates as they go.
 * @module
 */
import { conv2d, type PackedConv2d } from "../ops/conv2d.ts";
import { conv2dBackward, type Conv2dBackwardOptions } from "../ops/conv2d_backward.ts";
import { addInto } from "../ops/elementwise.ts";
import { maxPool2d, maxPool2dBackward } from "../ops/pool.ts";
import { type Tensor, tidy } from "../ops/tensor.ts";
import { ConfigError } from "./config.ts";
import { InvalidInputError } from "./input_checks.ts";
import type { BottleneckParams, ModelParams } from "./params.ts";
import type { LayerGrads } from "./train_params.ts";

/** What one bottleneck's backward needs: its input, the two inner activations, the shortcut and output. */
export interface BottleneckRecord {
  /** The block's convs. */
  block: BottleneckParams;
  /** Block input. */
  x: Tensor;
  /** ReLU(conv1(x)). */
  a: Tensor;
  /** ReLU(conv2(a)). */
  b: Tensor;
  /** downsample(x), or x itself. */
  identity: Tensor;
  /** ReLU(conv3(b) + identity). */
  out: Tensor;
}

/** Saved activations of a recording {@link resnetForward}, for {@link resnetBackward}. */
export interface ResnetTape {
  /** Index of the first stage that trains (0 = layer1, 4 = none); stages before it are not recorded. */
  readonly firstTrainableStage: number;
  /** Whether the stem (conv1) trains: only with trainable layers 5, as torchvision. */
  readonly trainsStem: boolean;
  /** Per trainable stage (firstTrainableStage..3), its blocks' records; filled by the forward. */
  readonly blocks: BottleneckRecord[][];
  /** The stem's input, ReLU output and max-pool output when the stem trains (trainable layers 5). */
  stem: { images: Tensor; out: Tensor; pooled: Tensor } | null;
}

/** Options of {@link createResnetTape}. */
export interface ResnetTapeOptions {
  /** torchvision's `trainable_layers` (0..5): layer4 .. layer(5 − n) train, the stem only with 5. */
  trainableLayers: number;
}

/**
 * An empty tape for a training forward with `trainableLayers` trainable stages (`trainableBackboneLayers`).
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { createResnetTape } from "./resnet.ts";
 * assert.strictEqual(createResnetTape({ trainableLayers: 3 }).firstTrainableStage, 1); // layer2..layer4 train
 * assert.strictEqual(createResnetTape({ trainableLayers: 0 }).firstTrainableStage, 4); // nothing records
 * ```
 */
export function createResnetTape(options: ResnetTapeOptions): ResnetTape {
  const n = options.trainableLayers;
  if (!(Number.isInteger(n) && n >= 0 && n <= 5)) {
    throw new ConfigError("trainableBackboneLayers", n, "an integer in 0..5");
  }
  // torchvision trains layer4 .. layer(5 − n); conv1 (the stem) only with n = 5.
  return { firstTrainableStage: Math.max(0, 4 - n), trainsStem: n === 5, blocks: [], stem: null };
}

/** Options of {@link resnetForward}. */
export interface ResnetForwardOptions {
  /** Record the trainable stages into this tape (from {@link createResnetTape}) for {@link resnetBackward}. */
  tape?: ResnetTape;
}

function bottleneck(x: Tensor, block: BottleneckParams, record?: BottleneckRecord[]): Tensor {
  const run = () => {
    const identity = block.downsample ? conv2d(x, block.downsample, { stride: block.stride }) : x;
    const a = conv2d(x, block.conv1, { relu: true });
    const b = conv2d(a, block.conv2, { stride: block.stride, padding: 1, relu: true });
    const out = conv2d(b, block.conv3, { residual: identity, relu: true });
    record?.push({ block, x, a, b, identity, out });
    return out;
  };
  return record ? run() : tidy(run);
}

/**
 * images: [N, H, W, 3] f32 (normalised, padded) → [C2, C3, C4, C5], strides 4, 8, 16, 32, NHWC. With
 * `options.tape`, the trainable stages keep their activations in it (and in the enclosing `tidy` scope).
 *
 * @example Inference
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
 *
 * @example Recording for training
 * ```ts
 * import assert from "node:assert";
 * import { createResnetTape, resnetForward } from "./resnet.ts";
 * import { buildModel } from "./mask_rcnn.ts";
 * import { initWeights } from "./init.ts";
 * import { tensorFromArray } from "../ops/tensor.ts";
 * const model = await buildModel({ preset: "small" }); // trainableBackboneLayers 3
 * initWeights(model, { seed: 1 });
 * const images = tensorFromArray(Float32Array.from({ length: 64 * 64 * 3 }, (_, i) => Math.sin(i)), [1, 64, 64, 3]);
 * const tape = createResnetTape({ trainableLayers: model.config.trainableBackboneLayers });
 * const features = resnetForward(model.params!, images, { tape });
 * assert.strictEqual(tape.blocks.length, 3); // layer2..layer4 recorded, layer1 and the stem frozen
 * assert.strictEqual(tape.blocks[2].at(-1)!.out, features[3]); // C5 is layer4's last output
 * ```
 */
export function resnetForward(
  params: ModelParams,
  images: Tensor,
  options: ResnetForwardOptions = {},
): Tensor[] {
  const tape = options.tape;
  if (tape && (tape.blocks.length > 0 || tape.stem)) {
    throw new InvalidInputError("resnetForward", "options.tape", "a tape that holds a forward", "a new tape");
  }
  const forward = () => {
    const stem = () => {
      const out = conv2d(images, params.stem, { stride: 2, padding: 3, relu: true });
      const pooled = maxPool2d(out, { kernel: 3, stride: 2, padding: 1 });
      if (tape?.trainsStem) tape.stem = { images, out, pooled };
      return pooled;
    };
    let x = tape?.trainsStem ? stem() : tidy(stem);
    const outputs: Tensor[] = [];
    params.layers.forEach((stage, s) => {
      const record = tape && s >= tape.firstTrainableStage ? [] : undefined;
      for (const block of stage) x = bottleneck(x, block, record);
      if (record) tape!.blocks.push(record);
      outputs.push(x);
    });
    return outputs;
  };
  if (!tape) return tidy(forward);
  // Recording: the tape's tensors move to the enclosing scope with the outputs; the rest is freed.
  return tidy(() => ({ features: forward(), tape })).features;
}

function convBackward(
  x: Tensor,
  packed: PackedConv2d,
  options: Conv2dBackwardOptions,
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

function bottleneckBackward(
  rec: BottleneckRecord,
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

/**
 * Backward of a recording {@link resnetForward}: `featureGrads` are the gradients of C2..C5 (from
 * {@link fpnBackward}; entries of frozen stages are not read). Walks from layer4 down to the first
 * trainable stage (and the stem when it trains), accumulating every trainable conv's parameter gradient
 * into `grads` (layer → its gradient tensors, from `layerGradients`).
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { fill } from "../ops/elementwise.ts";
 * import { createResnetTape, resnetBackward, resnetForward } from "./resnet.ts";
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
 * const tape = createResnetTape({ trainableLayers: model.config.trainableBackboneLayers });
 * const features = resnetForward(params, images, { tape });
 * resnetBackward(params, tape, features.map((c) => fill(c.shape, 1e-3)), grads); // dLoss/dC2..C5
 * const g = await grads.get(params.layers[1][0].conv1)!.weight!.read();
 * assert.ok(g.some((v) => v !== 0)); // layer2's first conv received a gradient
 * assert.strictEqual(grads.get(params.layers[0][0].conv1), undefined); // layer1 is frozen
 * ```
 */
export function resnetBackward(
  params: ModelParams,
  tape: ResnetTape,
  featureGrads: readonly (Tensor | null)[],
  grads: Map<object, LayerGrads>,
): void {
  let g: Tensor | null = null;
  for (let s = tape.blocks.length - 1; s >= 0; s--) {
    const stage = s + tape.firstTrainableStage;
    const fromFpn = featureGrads[stage];
    g = g ? (fromFpn ? addInto(g, fromFpn) : g) : fromFpn;
    if (!g) continue;
    const records = tape.blocks[s];
    for (let k = records.length - 1; k >= 0; k--) {
      const needInput = !(s === 0 && k === 0) || tape.stem !== null;
      g = bottleneckBackward(records[k], g!, grads, needInput);
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
