/**
 * torchvision's `BalancedPositiveNegativeSampler(batch_size_per_image, positive_fraction)` on the GPU:
 * per image num_pos = min(#positives, ⌊batch · fraction⌋), num_neg = min(#negatives, batch − num_pos),
 * each drawn uniformly without replacement, returned as per-element masks plus counts (no read-back).
 *
 * Randomness: every element gets a key from a keyed 24-bit bijection of its index, salted by a hash of
 * (seed, step, image index in the global batch) (`shaders/detection/sampler.wgsl.ts`); the picks are the elements of largest key among the
 * candidates, found with the existing segmented {@link topk} (one call: positives and negatives are two
 * segments of each row). Keys within an image are distinct, so the result is reproducible bit-for-bit for
 * the same (seed, step) on any device. torch.randperm's draws cannot be reproduced; when the batch holds
 * every candidate the result equals torchvision's exactly.
 * @module
 */
import {
  SAMPLER_KEYS_WGSL,
  SAMPLER_MARK_WGSL,
  SAMPLER_MAX_ELEMENTS,
} from "../../shaders/detection/sampler.wgsl.ts";
import { WORKGROUP_1D } from "../../shaders/common.wgsl.ts";
import { fillInPlace } from "../elementwise.ts";
import { LimitError, ShapeError } from "../errors.ts";
import { dispatch, params } from "../kernel.ts";
import { emptyTensor, type Tensor, tidy } from "../tensor.ts";
import { topk } from "../topk.ts";
import { assertDType } from "../validate.ts";

/** Options of {@link sampleBalanced}. */
export interface SamplerOptions {
  /** Elements sampled per image (256 in the RPN, 512 in the RoI heads). */
  batchSizePerImage: number;
  /** Fraction of positives (0.5 in the RPN, 0.25 in the RoI heads). */
  positiveFraction: number;
  /** u32 seed of the run. */
  seed: number;
  /** u32 step counter (a different draw per step). */
  step: number;
  /**
   * Index of image 0 of this batch in the global batch (default 0): a data-parallel rank holding images
   * k.. of a step's batch draws what a single process holding the whole batch draws for them.
   */
  firstImage?: number;
}

/** Result of {@link sampleBalanced}; B images of L elements. */
export interface SampleResult {
  /** u32 `[B, L]`: 1 = sampled positive. */
  positive: Tensor;
  /** u32 `[B, L]`: 1 = sampled negative. */
  negative: Tensor;
  /** u32 `[B]` sampled positives per image. */
  numPositive: Tensor;
  /** u32 `[B]` sampled negatives per image. */
  numNegative: Tensor;
  /**
   * u32 `[2]`: (Σ sampled, Σ positives) over images: [0] is the RPN / box-head loss normaliser
   * (`sampled_inds.numel()`), [1] the number of mask targets.
   */
  totals: Tensor;
}

/**
 * Samples positives (label ≥ 1) and negatives (label 0) per image; −1 (or any other negative) is ignored.
 * labels: [B, L] i32 → {@link SampleResult}.
 *
 * @example 2 of 3 positives and 2 negatives
 * ```ts
 * import { getGpu, readTensors, tensorFromArray } from "../mod.ts";
 * import { sampleBalanced } from "./sampler.ts";
 * await getGpu();
 * const labels = tensorFromArray(new Int32Array([1, 0, 1, -1, 0, 0, 1]), [1, 7]);
 * const s = sampleBalanced(labels, { batchSizePerImage: 4, positiveFraction: 0.5, seed: 7, step: 0 });
 * console.log(await readTensors([s.positive, s.negative, s.totals])); // two 1s in each mask, totals [4, 2]
 * ```
 */
export function sampleBalanced(labels: Tensor, options: SamplerOptions): SampleResult {
  const op = "sampleBalanced";
  assertDType(op, "labels", labels.check(op, "labels"), ["i32"]);
  if (labels.rank !== 2) throw new ShapeError(op, `labels must be [B, L], got ${labels.describe()}`);
  const { batchSizePerImage: batch, positiveFraction: fraction, seed, step } = options;
  const firstImage = options.firstImage ?? 0;
  if (!Number.isInteger(batch) || batch < 1 || !(fraction >= 0 && fraction <= 1)) {
    throw new ShapeError(
      op,
      `batchSizePerImage ${batch} must be ≥ 1 and positiveFraction ${fraction} in [0, 1]`,
    );
  }
  const u32 = (v: number) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
  if (!u32(seed) || !u32(step) || !u32(firstImage)) {
    throw new ShapeError(op, `seed ${seed}, step ${step} and firstImage ${firstImage} must be u32 integers`);
  }
  const [images, len] = labels.shape;
  if (len > SAMPLER_MAX_ELEMENTS) {
    throw new LimitError(op, `${len} elements per image > ${SAMPLER_MAX_ELEMENTS}`);
  }
  const positive = fillInPlace(emptyTensor([images, len], "u32"), 0);
  const negative = fillInPlace(emptyTensor([images, len], "u32"), 0);
  const result = {
    positive,
    negative,
    numPositive: fillInPlace(emptyTensor([images], "u32"), 0),
    numNegative: fillInPlace(emptyTensor([images], "u32"), 0),
    totals: fillInPlace(emptyTensor([2], "u32"), 0),
  };
  if (images * len === 0) return result;
  tidy(() => {
    const scores = emptyTensor([images, 2 * len], "f32");
    const cand = emptyTensor([images, 2 * len], "u32");
    dispatch({ key: "sampler/keys", source: SAMPLER_KEYS_WGSL }, {
      op,
      tensors: [["labels", labels], ["scores", scores], ["cand", cand]],
      params: params(["u32", images * len], ["u32", len], ["u32", seed], ["u32", step], ["u32", firstImage]),
      workgroups: Math.ceil((images * len) / WORKGROUP_1D),
    });
    const top = topk(scores, batch, { segments: [len, len], valid: cand });
    const k = top.indices.shape[2];
    dispatch({ key: "sampler/mark", source: SAMPLER_MARK_WGSL }, {
      op,
      tensors: [
        ["indices", top.indices],
        ["counts", top.counts],
        ["positive", positive],
        ["negative", negative],
        ["numPositive", result.numPositive],
        ["numNegative", result.numNegative],
        ["totals", result.totals],
      ],
      params: params(
        ["u32", images],
        ["u32", k],
        ["u32", Math.floor(batch * fraction)],
        ["u32", batch],
        ["u32", len],
      ),
      workgroups: Math.ceil((images * 2 * k) / WORKGROUP_1D),
    });
    return null;
  });
  return result;
}
