/**
 * torchvision's `Matcher(high, low, allow_low_quality_matches)` for a batch of images on the GPU: per
 * element (anchor or proposal) the matched GT index within its image, or a negative code. Two entries:
 * {@link matchBoxes} recomputes IoUs on the fly from the GT and element boxes (no `[G, N]` matrix: 20 GT
 * × 242,991 anchors × 2 images would be 39 MB), {@link matchQuality} reads a given quality matrix.
 *
 * Semantics (checked against torchvision 0.14 on fixtures with ties): the best GT of an element is the
 * first of tied maxima (torch 1.13's `max(dim=0)`); `best < low` → −1, `low ≤ best < high` → −2, else the
 * GT; with low-quality matches an element gets its best GT back whenever its quality with some GT equals
 * that GT's maximum over the image (exact float equality, ties included — so a GT that overlaps nothing
 * has maximum 0 and hands every zero-quality element its argmax, as torchvision does). Invalid elements
 * (padding) get −3 and take no part in the maxima; every element of an image without GT gets −1.
 * Qualities must not be NaN.
 * @module
 */
import {
  MATCH_MAX_BLOCK,
  MATCH_TILE,
  MATCH_WORKGROUP,
  type MatcherVariant,
  matcherWgsl,
} from "../../shaders/detection/matcher.wgsl.ts";
import { fillInPlace } from "../elementwise.ts";
import { LimitError, ShapeError } from "../errors.ts";
import { bindable, checkGtBatch, type GtBatch } from "./gt_batch.ts";
import { dispatch, params } from "../kernel.ts";
import { emptyTensor, type Tensor, tidy } from "../tensor.ts";
import { segmentTable } from "../topk.ts";
import { assertDType } from "../validate.ts";

/** Match code of an element whose best quality is below the low threshold (background). */
export const BELOW_LOW_THRESHOLD = -1;
/** Match code of an element between the thresholds (ignored). */
export const BETWEEN_THRESHOLDS = -2;
/** Match code of an invalid (padding) element. */
export const INVALID_ELEMENT = -3;

/** Options of {@link matchBoxes} / {@link matchQuality}. */
export interface MatcherOptions {
  /** Qualities ≥ this match (0.7 in the RPN, 0.5 in the RoI heads). */
  highThreshold: number;
  /** Qualities below this are background (0.3 in the RPN, 0.5 in the RoI heads). */
  lowThreshold: number;
  /** torchvision's `allow_low_quality_matches` (true in the RPN). Default false. */
  allowLowQualityMatches?: boolean;
  /** u32 `[B, N]`: 1 = element exists (e.g. a real proposal), 0 = padding. */
  valid?: Tensor;
}

function checkOptions(op: string, o: MatcherOptions, images: number, n: number): void {
  if (!(o.lowThreshold <= o.highThreshold)) {
    throw new ShapeError(op, `lowThreshold ${o.lowThreshold} must be ≤ highThreshold ${o.highThreshold}`);
  }
  if (o.valid) {
    assertDType(op, "valid", o.valid.check(op, "valid"), ["u32"]);
    if (o.valid.size !== images * n) {
      throw new ShapeError(op, `valid ${o.valid.describe()} must hold [${images}, ${n}] flags`);
    }
  }
  if (Math.ceil(n / MATCH_WORKGROUP) > 65535 || images > 65535) {
    throw new LimitError(op, `${images} images × ${n} elements exceed one dispatch grid`);
  }
}

function runMatcher(
  op: string,
  fused: boolean,
  inputs: readonly (readonly [string, Tensor])[],
  table: Tensor,
  images: number,
  n: number,
  boxStride: number,
  o: MatcherOptions,
): Tensor {
  const matches = emptyTensor([images, n], "i32");
  if (images * n === 0) return matches;
  const lowQuality = o.allowLowQualityMatches ?? false;
  return tidy(() => {
    const totalGt = inputs[0][1].shape[0];
    const gtMax = fillInPlace(emptyTensor([Math.max(1, totalGt)], "u32"), 0);
    const block = params(
      ["u32", n],
      ["u32", boxStride],
      ["u32", o.valid ? 1 : 0],
      ["u32", lowQuality ? 1 : 0],
      ["f32", o.highThreshold],
      ["f32", o.lowThreshold],
    );
    const run = (variant: MatcherVariant, outs: [string, Tensor][]) =>
      dispatch(
        { key: `matcher/${fused ? "fused" : "matrix"}/${variant.pass}`, source: matcherWgsl(variant) },
        {
          op,
          tensors: [["table", table], ...inputs, ["valid", o.valid ?? table], ...outs],
          params: block,
          workgroups: [
            Math.ceil(n / (variant.pass === "max" ? MATCH_MAX_BLOCK : MATCH_WORKGROUP)),
            images,
            1,
          ],
        },
      );
    if (lowQuality && totalGt > 0) run({ fused, pass: "max" }, [["gtMax", gtMax]]);
    run({ fused, pass: "match" }, [["gtMax", gtMax], ["matches", matches]]);
    return matches;
  });
}

/**
 * Matches each image's elements to its GT boxes by IoU (torchvision `Matcher(box_iou(gt, boxes))` per
 * image). gt: {@link GtBatch} of B images, boxes: [B, N, 4] f32 or [N, 4] (shared, e.g. anchors)
 * → i32 [B, N]: GT index within the image (0..G_b−1), or −1 / −2 / −3 (see the module notes).
 *
 * @example RPN matching of two anchors
 * ```ts
 * import { getGpu, tensorFromArray } from "../mod.ts";
 * import { uploadGtBatch } from "./gt_batch.ts";
 * import { matchBoxes } from "./matcher.ts";
 * await getGpu();
 * const gt = uploadGtBatch([{ boxes: new Float32Array([0, 0, 10, 10]), labels: new Int32Array([1]) }]);
 * const anchors = tensorFromArray(new Float32Array([0, 0, 9, 10, 20, 20, 30, 30]), [2, 4]);
 * const m = matchBoxes(gt, anchors, { highThreshold: 0.7, lowThreshold: 0.3, allowLowQualityMatches: true });
 * console.log(await m.read()); // [0, -1]
 * ```
 */
export function matchBoxes(gt: GtBatch, boxes: Tensor, options: MatcherOptions): Tensor {
  const op = "matchBoxes";
  const images = checkGtBatch(op, gt);
  boxes.check(op, "boxes");
  assertDType(op, "boxes", boxes, ["f32"]);
  const shared = boxes.rank === 2;
  if (
    (boxes.rank !== 2 && boxes.rank !== 3) || boxes.shape[boxes.rank - 1] !== 4 ||
    (!shared && boxes.shape[0] !== images)
  ) {
    throw new ShapeError(op, `boxes ${boxes.describe()} must be [${images}, N, 4] or [N, 4]`);
  }
  const n = boxes.shape[boxes.rank - 2];
  checkOptions(op, options, images, n);
  const inputs = [["gtBoxes", bindable(gt.boxes)], ["boxes", boxes]] as const;
  return runMatcher(op, true, inputs, gt.table, images, n, shared ? 0 : n, options);
}

/**
 * torchvision's `Matcher` on given quality matrices: image b's GT rows `[G_b, N]` stacked.
 * quality: [ΣG_b, N] f32 (≥ 0 for low-quality matching), gtCounts: G_b per image → i32 [B, N].
 *
 * @example
 * ```ts
 * import { getGpu, tensorFromArray } from "../mod.ts";
 * import { matchQuality } from "./matcher.ts";
 * await getGpu();
 * const q = tensorFromArray(new Float32Array([0.2, 0.9, 0.5, 0.4, 0.1, 0.6]), [2, 3]);
 * const m = matchQuality(q, [2], { highThreshold: 0.7, lowThreshold: 0.3 });
 * console.log(await m.read()); // [-2, 0, -2]
 * ```
 */
export function matchQuality(quality: Tensor, gtCounts: readonly number[], options: MatcherOptions): Tensor {
  const op = "matchQuality";
  assertDType(op, "quality", quality.check(op, "quality"), ["f32"]);
  const total = gtCounts.reduce((a, c) => a + c, 0);
  if (
    gtCounts.length === 0 || gtCounts.some((c) => !Number.isInteger(c) || c < 0) || quality.rank !== 2 ||
    quality.shape[0] !== total
  ) {
    throw new ShapeError(
      op,
      `quality ${quality.describe()} must be [${total}, N] for gtCounts [${gtCounts}]`,
    );
  }
  const n = quality.shape[1];
  checkOptions(op, options, gtCounts.length, n);
  const table = segmentTable(gtCounts);
  return runMatcher(op, false, [["quality", quality]], table, gtCounts.length, n, 0, options);
}

/** GT per matcher tile (exported for tests of many-GT images). */
export const MATCHER_GT_TILE = MATCH_TILE;
