/**
 * Training forward, loss and backward of the heads, each run right after its loss so that its gradient
 * w.r.t. the pyramid accumulates into `pyramidGrads` before the backbone's backward:
 * - {@link rpnHeadBackward}: the shared RPN head over every level (torchvision `RPNHead`);
 * - {@link boxHeadTrain}: MultiScaleRoIAlign 7×7 → TwoMLPHead → FastRCNNPredictor with `fastrcnn_loss`;
 * - {@link maskHeadTrain}: MultiScaleRoIAlign 14×14 → MaskRCNNHeads → MaskRCNNPredictor with `maskrcnn_loss`.
 * @module
 */
import { conv2d } from "../ops/conv2d.ts";
import { conv2dBackward } from "../ops/conv2d_backward.ts";
import { convTranspose2d, convTranspose2dBackward } from "../ops/conv_transpose2d.ts";
import { addInto } from "../ops/elementwise.ts";
import { gatherRows, splitLastAxis } from "../ops/gather.ts";
import { compactFlags } from "../ops/compact.ts";
import { currentGpu } from "../ops/gpu.ts";
import type { OccupiedRows } from "../ops/kernel.ts";
import { linear, linearBackward } from "../ops/linear.ts";
import { maskBceLoss, type Normaliser, smoothL1ClassSelected, softmaxCrossEntropy } from "../ops/losses.ts";
import { multiScaleRoiAlign } from "../ops/multiscale_roi_align.ts";
import { multiScaleRoiAlignBackward } from "../ops/roi_align_backward.ts";
import type { Tensor } from "../ops/tensor.ts";
import type { ModelParams } from "./params.ts";
import { poolerFeatures } from "./roi_heads.ts";
import type { RpnHeadOutput } from "./rpn.ts";
import type { LayerGrads } from "./train_params.ts";
import { forEachRoiChunk, roiChunkRows } from "./roi_chunks.ts";

type Grads = Map<object, LayerGrads>;
type Sizes = readonly (readonly [number, number])[];

/** Adds `g` into `pyramidGrads[level]` (or takes it as the first contribution). */
function accumulate(pyramidGrads: (Tensor | null)[], level: number, g: Tensor): void {
  const current = pyramidGrads[level];
  pyramidGrads[level] = current ? addInto(current, g) : g;
}

/**
 * Backward of the RPN head: gradLogits [B, T], gradDeltas [B·T, 4] (from the RPN losses) → accumulates the
 * head's parameter gradients and each level's input gradient into `pyramidGrads`.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { fill } from "../ops/elementwise.ts";
 * import type { Tensor } from "../ops/tensor.ts";
 * import { fpnForward } from "./fpn.ts";
 * import { resnetForward } from "./resnet.ts";
 * import { rpnHead } from "./rpn.ts";
 * import { rpnHeadBackward } from "./train_heads.ts";
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
 * const pyramid = fpnForward(params, resnetForward(params, images));
 * const head = rpnHead(params, pyramid);
 * const pyramidGrads: (Tensor | null)[] = pyramid.map(() => null);
 * rpnHeadBackward(params, pyramid, head, fill(head.logits.shape, 0.01), fill(head.deltas.shape, 0.01), grads, pyramidGrads);
 * assert.ok(pyramidGrads.every((g, l) => g !== null && g.shape.join() === pyramid[l].shape.join()));
 * const bias = await grads.get(params.rpnCls)!.bias!.read();
 * assert.ok(Math.abs(bias[0] - 0.01 * 1023 / 3) < 1e-3); // Σ over the anchors of its aspect ratio
 * ```
 */
export function rpnHeadBackward(
  params: ModelParams,
  pyramid: readonly Tensor[],
  head: RpnHeadOutput,
  gradLogits: Tensor,
  gradDeltas: Tensor,
  grads: Grads,
  pyramidGrads: (Tensor | null)[],
): void {
  const batch = gradLogits.shape[0];
  const logitParts = splitLastAxis(gradLogits, head.levelLengths);
  const deltaParts = splitLastAxis(
    gradDeltas.reshape([batch, gradDeltas.size / batch]),
    head.levelLengths.map((l) => 4 * l),
  );
  pyramid.forEach((level, l) => {
    const [, h, w] = level.shape;
    const hidden = head.hidden[l];
    const perLocation = head.levelLengths[l] / (h * w);
    const gCls = logitParts[l].reshape([batch, h, w, perLocation]);
    const gBox = deltaParts[l].reshape([batch, h, w, 4 * perLocation]);
    const g1 = conv2dBackward(hidden, params.rpnCls, gCls, grads.get(params.rpnCls) ?? {})
      .gradInput!;
    const g2 = conv2dBackward(hidden, params.rpnBbox, gBox, grads.get(params.rpnBbox) ?? {})
      .gradInput!;
    const gHidden = addInto(g1, g2);
    const gLevel = conv2dBackward(level, params.rpnConv, gHidden, grads.get(params.rpnConv) ?? {}, {
      padding: 1,
      relu: true,
      out: hidden,
    })
      .gradInput!;
    accumulate(pyramidGrads, l, gLevel);
  });
}

function poolBackward(
  gradPooled: Tensor,
  rois: Tensor,
  pyramid: readonly Tensor[],
  imageSizes: Sizes,
  outputSize: number,
  pyramidGrads: (Tensor | null)[],
  occupied?: OccupiedRows,
): void {
  const shapes = { p2: pyramid[0].shape, p3: pyramid[1].shape, p4: pyramid[2].shape, p5: pyramid[3].shape };
  const levelGrads = multiScaleRoiAlignBackward(gradPooled, rois, shapes, imageSizes, {
    outputSize,
    samplingRatio: 2,
    occupied,
  });
  ["p2", "p3", "p4", "p5"].forEach((name, l) => accumulate(pyramidGrads, l, levelGrads[name]));
}

/** Inputs of {@link boxHeadTrain}: the sampled RoIs and their targets. */
export interface BoxHeadTargets {
  /** [R, 5] (image, x1, y1, x2, y2); image −1 in empty slots. */
  rois: Tensor;
  /** [R] i32 class (0 background, −1 empty). */
  labels: Tensor;
  /** [R] u32 1 = sampled. */
  valid: Tensor;
  /** [R] u32 1 = sampled foreground. */
  positive: Tensor;
  /** [R, 4] encoded with (10, 10, 5, 5). */
  regressionTargets: Tensor;
  /** Number of sampled RoIs (the denominator of both box-head losses). */
  sampledCount: Normaliser;
}

/**
 * Box head forward, `fastrcnn_loss` (cross-entropy over the sampled RoIs, smooth L1 with beta 1/9 on the
 * true class's deltas of positives divided by the sampled count) and backward into `pyramidGrads`.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import type { Tensor } from "../ops/tensor.ts";
 * import { fpnForward } from "./fpn.ts";
 * import { resnetForward } from "./resnet.ts";
 * import { boxHeadTrain } from "./train_heads.ts";
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
 * const pyramid = fpnForward(params, resnetForward(params, images));
 * // Two sampled RoIs of image 0: one foreground (class 2), one background (roiTargets makes these).
 * const targets = {
 *   rois: tensorFromArray(new Float32Array([0, 8, 8, 40, 40, 0, 0, 30, 20, 60]), [2, 5]),
 *   labels: tensorFromArray(new Int32Array([2, 0]), [2]),
 *   valid: tensorFromArray(new Uint32Array([1, 1]), [2]),
 *   positive: tensorFromArray(new Uint32Array([1, 0]), [2]),
 *   regressionTargets: tensorFromArray(new Float32Array([0.5, -0.5, 0.1, 0, 0, 0, 0, 0]), [2, 4]),
 *   sampledCount: 2,
 * };
 * const pyramidGrads: (Tensor | null)[] = pyramid.map(() => null);
 * const { classifier, boxReg } = boxHeadTrain(params, pyramid, [[64, 64]], targets, grads, pyramidGrads);
 * const [ce] = await classifier.read();
 * assert.ok(Math.abs(ce - Math.log(4)) < 0.1); // near-zero initial logits: cross-entropy ≈ ln(numClasses)
 * assert.ok((await boxReg.read())[0] > 0);
 * ```
 */
export function boxHeadTrain(
  params: ModelParams,
  pyramid: readonly Tensor[],
  imageSizes: Sizes,
  targets: BoxHeadTargets,
  grads: Grads,
  pyramidGrads: (Tensor | null)[],
): { classifier: Tensor; boxReg: Tensor } {
  const pooled = multiScaleRoiAlign(poolerFeatures(pyramid), targets.rois, imageSizes, {
    outputSize: 7,
    samplingRatio: 2,
  });
  const rows = pooled.shape[0];
  const flat = pooled.reshape([rows, pooled.size / rows]);
  const h6 = linear(flat, params.fc6, { relu: true });
  const h7 = linear(h6, params.fc7, { relu: true });
  const logits = linear(h7, params.clsScore);
  const deltas = linear(h7, params.bboxPred);
  const ce = softmaxCrossEntropy(logits, targets.labels, targets.valid, targets.sampledCount);
  const box = smoothL1ClassSelected(
    deltas,
    targets.labels,
    targets.regressionTargets,
    targets.positive,
    1 / 9,
    targets.sampledCount,
  );
  const g = (p: object) => grads.get(p) ?? {};
  const g7 = addInto(
    linearBackward(h7, params.clsScore, ce.grad, g(params.clsScore)).gradInput!,
    linearBackward(h7, params.bboxPred, box.grad, g(params.bboxPred)).gradInput!,
  );
  const g6 = linearBackward(h6, params.fc7, g7, g(params.fc7), { relu: true, out: h7 }).gradInput!;
  const gFlat = linearBackward(flat, params.fc6, g6, g(params.fc6), { relu: true, out: h6 }).gradInput!;
  poolBackward(gFlat.reshape(pooled.shape), targets.rois, pyramid, imageSizes, 7, pyramidGrads);
  return { classifier: ce.loss, boxReg: box.loss };
}

/** Inputs of {@link maskHeadTrain}: the positive RoIs and their mask targets. */
export interface MaskHeadTargets {
  /** [Rm, 5]; image −1 in empty slots. */
  rois: Tensor;
  /** [Rm] i32 class of each positive RoI. */
  labels: Tensor;
  /** [Rm] u32 1 = a real positive. */
  positive: Tensor;
  /** [Rm, 28, 28] f32 soft targets. */
  targets: Tensor;
  /** Number of positives. */
  count: Normaliser;
}

/**
 * Mask head forward, `maskrcnn_loss` (binary cross-entropy on the true class's logits, mean over positives
 * × 28 × 28) and backward into `pyramidGrads`.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import type { Tensor } from "../ops/tensor.ts";
 * import { fpnForward } from "./fpn.ts";
 * import { resnetForward } from "./resnet.ts";
 * import { maskHeadTrain } from "./train_heads.ts";
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
 * const pyramid = fpnForward(params, resnetForward(params, images));
 * const targets = {
 *   rois: tensorFromArray(new Float32Array([0, 8, 8, 40, 40]), [1, 5]),
 *   labels: tensorFromArray(new Int32Array([1]), [1]),
 *   positive: tensorFromArray(new Uint32Array([1]), [1]),
 *   targets: tensorFromArray(Float32Array.from({ length: 28 * 28 }, (_, i) => (i % 28 < 14 ? 1 : 0)), [1, 28, 28]),
 *   count: 1,
 * };
 * const pyramidGrads: (Tensor | null)[] = pyramid.map(() => null);
 * const loss = maskHeadTrain(params, pyramid, [[64, 64]], targets, grads, pyramidGrads);
 * const [bce] = await loss.read();
 * assert.ok(Number.isFinite(bce) && bce > 0);
 * assert.ok(pyramidGrads.some((g) => g !== null)); // the RoI's levels got a gradient
 * ```
 */
export function maskHeadTrain(
  params: ModelParams,
  pyramid: readonly Tensor[],
  imageSizes: Sizes,
  targets: MaskHeadTargets,
  grads: Grads,
  pyramidGrads: (Tensor | null)[],
): Tensor {
  const mask = params.mask!;
  const channels = Math.max(mask.upsample.cout, mask.logits.cout, ...mask.convs.map((c) => c.cout));
  const bytesPerRoi = 28 * 28 * channels * 4;
  const slots = targets.rois.shape[0];
  let inputs = [targets.rois, targets.labels, targets.positive, targets.targets];
  let occupied: OccupiedRows | undefined;
  if (roiChunkRows(slots, bytesPerRoi, currentGpu().limits.maxStorageBufferBindingSize) >= slots) {
    // The positives of all images moved to the front (stable, so the real rows keep their order; the rows
    // after them are empty: positive 0, zero targets): every op of the head runs only on the `total`
    // real rows, and the loss gives the empty rows exactly zero gradient.
    const { index, total } = compactFlags(targets.positive);
    inputs = inputs.map((t) => gatherRows(t, index));
    occupied = { counts: total };
  }
  let total: Tensor | null = null;
  // Chunks keep every activation under the binding limit; the loss is a sum over rows / count, so the
  // chunks' losses add up to the whole batch's and their gradients are exact.
  forEachRoiChunk(
    inputs,
    bytesPerRoi,
    ([rois, labels, positive, maskTargets]) => {
      const pooled = multiScaleRoiAlign(poolerFeatures(pyramid), rois, imageSizes, {
        outputSize: 14,
        samplingRatio: 2,
        occupied,
      });
      const layerInputs: Tensor[] = [];
      const outputs: Tensor[] = [];
      let x = pooled;
      for (const layer of mask.convs) {
        layerInputs.push(x);
        x = conv2d(x, layer, { padding: 1, relu: true, occupied });
        outputs.push(x);
      }
      const up = convTranspose2d(x, mask.upsample, { relu: true, occupied });
      const logits = conv2d(up, mask.logits, { occupied });
      const loss = maskBceLoss(logits, labels, maskTargets, positive, targets.count);
      const g = (p: object) => grads.get(p) ?? {};
      const gUp = conv2dBackward(up, mask.logits, loss.grad, g(mask.logits), { occupied }).gradInput!;
      let gx = convTranspose2dBackward(x, mask.upsample, gUp, g(mask.upsample), {
        relu: true,
        out: up,
        occupied,
      })
        .gradInput!;
      for (let i = mask.convs.length - 1; i >= 0; i--) {
        gx = conv2dBackward(layerInputs[i], mask.convs[i], gx, g(mask.convs[i]), {
          padding: 1,
          relu: true,
          out: outputs[i],
          occupied,
        })
          .gradInput!;
      }
      poolBackward(gx, rois, pyramid, imageSizes, 14, pyramidGrads, occupied);
      total = total ? addInto(total, loss.loss) : loss.loss;
    },
  );
  return total!;
}
