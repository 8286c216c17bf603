/**
 * Training-target benchmarks on an 800 × 1216 batch of 2 images with 20 GT each: RPN target assignment
 * over the 242,991 anchors (matcher with low-quality matches + labels + encoding), the same plus the
 * balanced sampler, and the RoI heads' targets for 2 × 2000 proposals (append GT, match, sample 512,
 * compact, encode) with 28 × 28 mask targets of the positives. Each figure encodes several calls and
 * syncs once (no read-back).
 * @module
 */
import { getGpu, type Tensor, tensorFromArray } from "../../ops/mod.ts";
import { torchvisionAnchors } from "../../ops/detection/anchors.ts";
import { MASKRCNN_RESNET50_FPN } from "../../model/config.ts";
import { roiTargetOptions, rpnTargetOptions } from "../../model/stage_config.ts";
import { disposeGtBatch, type GtImage, uploadGtBatch } from "../../ops/detection/gt_batch.ts";
import { roiTargets } from "../../ops/detection/roi_targets.ts";
import { assignAnchorTargets, rpnTargets } from "../../ops/detection/rpn_targets.ts";
import type { BenchRow } from "./_report.ts";

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const [H, W] = [800, 1216];

function boxes(n: number, next: () => number, jitterOf?: Float32Array): Float32Array {
  const out = new Float32Array(4 * n);
  for (let i = 0; i < n; i++) {
    if (jitterOf && i % 4 === 0) {
      const g = Math.floor(next() * (jitterOf.length / 4));
      for (let c = 0; c < 4; c++) out[4 * i + c] = jitterOf[4 * g + c] + (next() - 0.5) * 30;
    } else {
      const [w, h] = [16 + next() * 400, 16 + next() * 300];
      const [x, y] = [next() * (W - w), next() * (H - h)];
      out.set([x, y, x + w, y + h], 4 * i);
    }
  }
  return out;
}

function gtImage(seed: number, withMasks: boolean): GtImage {
  const next = rng(seed);
  const b = boxes(20, next);
  const image: GtImage = { boxes: b, labels: Int32Array.from({ length: 20 }, (_, i) => 1 + (i % 90)) };
  if (withMasks) {
    const masks = new Uint8Array(20 * H * W);
    for (let g = 0; g < 20; g++) {
      const [x1, y1, x2, y2] = b.subarray(4 * g, 4 * g + 4);
      for (let y = Math.floor(y1); y < y2; y++) {
        masks.fill(1, g * H * W + y * W + Math.floor(x1), g * H * W + y * W + Math.ceil(x2));
      }
    }
    Object.assign(image, { masks, maskSize: [H, W] });
  }
  return image;
}

/** Milliseconds per call of `run` (its outputs disposed), `iterations` calls encoded, one sync. */
async function msPerCall(run: () => Tensor[], iterations: number): Promise<number> {
  const gpu = await getGpu();
  for (const t of run()) t.dispose();
  await gpu.sync();
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) for (const t of run()) t.dispose();
  await gpu.sync();
  return (performance.now() - t0) / iterations;
}

const TV = MASKRCNN_RESNET50_FPN;
/** torchvision's RPN and RoI-head target values. */
const RPN = rpnTargetOptions(TV);
const ROI = roiTargetOptions(TV);

/** RPN and RoI-head training-target timings. */
export async function benchTargets(): Promise<BenchRow[]> {
  await getGpu();
  const featureSizes: [number, number][] = [[200, 304], [100, 152], [50, 76], [25, 38], [13, 19]];
  const anchorValues = torchvisionAnchors([H, W], featureSizes, TV.anchorSizes, TV.aspectRatios);
  const anchorCount = anchorValues.length / 4;
  const anchors = tensorFromArray(anchorValues, [anchorCount, 4]);
  const gt = uploadGtBatch([gtImage(1, true), gtImage(2, true)]);
  const assignMs = await msPerCall(() => Object.values(assignAnchorTargets(anchors, gt, RPN)), 3);
  let step = 0;
  const rpnMs = await msPerCall(() => {
    const r = rpnTargets(anchors, gt, { ...RPN, seed: 1, step: step++ });
    return [r.matches, r.labels, r.matchedBoxes, r.regressionTargets, ...Object.values(r.sample)];
  }, 3);
  const next = rng(3);
  const proposals = tensorFromArray(
    new Float32Array([
      ...boxes(2000, next, gtImage(1, false).boxes),
      ...boxes(2000, next, gtImage(2, false).boxes),
    ]),
    [4000, 4],
  );
  const roi = (maskSize: number) => () => {
    const r = roiTargets(proposals, gt, { ...ROI, seed: 1, step: step++, maskSize });
    return [...Object.values(r.sampled), ...Object.values(r.positive), r.numPositive, r.numNegative, r.totals]
      .concat(r.maskTargets ? [r.maskTargets] : []);
  };
  const roiMs = await msPerCall(roi(0), 3);
  const roiMaskMs = await msPerCall(roi(28), 3);
  proposals.dispose();
  anchors.dispose();
  disposeGtBatch(gt);
  return [
    {
      label: `rpn target assignment ${anchorCount} anchors × 20 GT × 2`,
      value: assignMs,
      unit: "ms",
      key: "rpn_assign_ms",
    },
    { label: "rpn targets + sampling (256, 0.5)", value: rpnMs, unit: "ms", key: "rpn_targets_ms" },
    { label: "roi targets 2 × (2000 + 20) → 512 samples", value: roiMs, unit: "ms", key: "roi_targets_ms" },
    { label: "roi targets + 28×28 mask targets", value: roiMaskMs, unit: "ms", key: "roi_mask_targets_ms" },
  ];
}
