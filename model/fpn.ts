/**
 * The feature pyramid (torchvision `FeaturePyramidNetwork` + `LastLevelMaxPool`), forward and backward side
 * by side (the llm.c pairing): 1×1 laterals, top-down nearest upsampling to each lateral's size (the add
 * fused into the lateral conv's epilogue), 3×3 outputs, and P6 as a 1×1 stride-2 max pool of P5.
 *
 * One forward serves inference and training: given an {@link FpnTape} it keeps what {@link fpnBackward}
 * needs (the laterals' inputs C2..C5, the merged inner maps and P2..P6); without one, everything but the
 * pyramid is freed on return.
 * @module
 */
import { conv2d } from "../ops/conv2d.ts";
import { conv2dBackward } from "../ops/conv2d_backward.ts";
import { addInto } from "../ops/elementwise.ts";
import { maxPool2d, maxPool2dBackward } from "../ops/pool.ts";
import { type Tensor, tidy } from "../ops/tensor.ts";
import { upsampleNearest, upsampleNearestBackward } from "../ops/upsample.ts";
import { InvalidInputError } from "./input_checks.ts";
import type { ModelParams } from "./params.ts";
import type { LayerGrads } from "./train_params.ts";

/** Saved activations of a recording {@link fpnForward}, for {@link fpnBackward}. */
export interface FpnTape {
  /** C2..C5, the lateral convs' inputs. */
  readonly features: Tensor[];
  /** The merged inner maps (lateral + top-down), levels 0..3: the 3×3 output convs' inputs. */
  readonly inner: Tensor[];
  /** P2..P6. */
  readonly pyramid: Tensor[];
}

/**
 * An empty tape for a training forward of the FPN.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { createFpnTape } from "./fpn.ts";
 * assert.deepStrictEqual(createFpnTape(), { features: [], inner: [], pyramid: [] }); // fpnForward fills it
 * ```
 */
export function createFpnTape(): FpnTape {
  return { features: [], inner: [], pyramid: [] };
}

/** Options of {@link fpnForward}. */
export interface FpnForwardOptions {
  /** Record into this tape (from {@link createFpnTape}) for {@link fpnBackward}. */
  tape?: FpnTape;
}

/**
 * [C2, C3, C4, C5] → [P2, P3, P4, P5, P6], each [N, Hl, Wl, fpnChannels]. With `options.tape`, the
 * activations backward needs stay alive in it (and in the enclosing `tidy` scope).
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
export function fpnForward(
  params: ModelParams,
  features: readonly Tensor[],
  options: FpnForwardOptions = {},
): Tensor[] {
  const tape = options.tape;
  if (tape && tape.pyramid.length > 0) {
    throw new InvalidInputError("fpnForward", "options.tape", "a tape that holds a forward", "a new tape");
  }
  const forward = () => {
    const last = features.length - 1;
    const inner: Tensor[] = [];
    const outputs: Tensor[] = [];
    inner[last] = conv2d(features[last], params.fpnInner[last]);
    outputs[last] = conv2d(inner[last], params.fpnLayer[last], { padding: 1 });
    for (let i = last - 1; i >= 0; i--) {
      const [, h, w] = features[i].shape;
      const above = inner[i + 1];
      inner[i] = tidy(() =>
        conv2d(features[i], params.fpnInner[i], { residual: upsampleNearest(above, h, w) })
      );
      outputs[i] = conv2d(inner[i], params.fpnLayer[i], { padding: 1 });
    }
    outputs.push(maxPool2d(outputs[last], { kernel: 1, stride: 2, padding: 0 }));
    if (tape) {
      tape.features.push(...features);
      tape.inner.push(...inner);
      tape.pyramid.push(...outputs);
    }
    return outputs;
  };
  if (!tape) return tidy(forward);
  // Recording: the tape's tensors move to the enclosing scope with the outputs; the rest is freed.
  return tidy(() => ({ pyramid: forward(), tape })).pyramid;
}

/** Options of {@link fpnBackward}. */
export interface FpnBackwardOptions {
  /**
   * The first level whose input gradient (dLoss/dC) is computed; the levels below feed frozen ResNet
   * stages (a `ResnetTape`'s `firstTrainableStage`). Default 0 (all four).
   */
  featureGradsFrom?: number;
}

/**
 * Backward of a recording {@link fpnForward}: `pyramidGrads` are the gradients of P2..P6 (from the RPN and
 * RoI heads; P5's is added to in place). Accumulates the FPN's parameter gradients into `grads` (layer →
 * its gradient tensors, from `layerGradients`) and returns the gradients of C2..C5 (null below
 * `featureGradsFrom`) for `resnetBackward`.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { fill } from "../ops/elementwise.ts";
 * import { createFpnTape, fpnBackward, fpnForward } from "./fpn.ts";
 * import { resnetForward } from "./resnet.ts";
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
 * const tape = createFpnTape();
 * const pyramid = fpnForward(params, resnetForward(params, images), { tape });
 * const pyramidGrads = pyramid.map((p) => fill(p.shape, 1e-3)); // dLoss/dP2..P6 from the heads
 * const featureGrads = fpnBackward(params, tape, pyramidGrads, grads, { featureGradsFrom: 1 });
 * assert.deepStrictEqual(featureGrads.map((g) => g?.shape[3] ?? null), [null, 512, 1024, 2048]);
 * const g = await grads.get(params.fpnLayer[0])!.weight!.read();
 * assert.ok(g.some((v) => v !== 0)); // the FPN's 3×3 output conv received a gradient
 * ```
 */
export function fpnBackward(
  params: ModelParams,
  tape: FpnTape,
  pyramidGrads: readonly Tensor[],
  grads: Map<object, LayerGrads>,
  options: FpnBackwardOptions = {},
): (Tensor | null)[] {
  const from = options.featureGradsFrom ?? 0;
  const last = tape.inner.length - 1;
  const layerGrads = (layer: object) => grads.get(layer) ?? {};
  // P6 = maxpool(P5, 1×1, stride 2).
  addInto(
    pyramidGrads[last],
    maxPool2dBackward(tape.pyramid[last], pyramidGrads[last + 1], { kernel: 1, stride: 2, padding: 0 }),
  );
  // inner_i = lateral_i(C_i) + up(inner_{i+1}); P_i = layer_i(inner_i). Walk from the finest level up.
  const featureGrads: (Tensor | null)[] = [];
  let gradFromBelow: Tensor | null = null;
  for (let i = 0; i <= last; i++) {
    const layer = params.fpnLayer[i];
    const gInner = conv2dBackward(tape.inner[i], layer, pyramidGrads[i], layerGrads(layer), {
      padding: 1,
      out: tape.pyramid[i],
    }).gradInput!;
    if (gradFromBelow) {
      const [, h, w] = tape.inner[i].shape;
      addInto(gInner, upsampleNearestBackward(gradFromBelow, h, w));
    }
    const lateral = params.fpnInner[i];
    const r = conv2dBackward(tape.features[i], lateral, gInner, layerGrads(lateral), {
      hasResidual: i < last,
      out: tape.inner[i],
      needInputGrad: i >= from,
    });
    featureGrads.push(r.gradInput ?? null);
    gradFromBelow = gInner;
  }
  return featureGrads;
}
