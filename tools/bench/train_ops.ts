/**
 * Training-op benchmarks at Mask R-CNN R50-FPN sizes (batch of 2 images of 800×1216): the RoIAlign
 * backward of the box head (512 sampled RoIs per image, 7×7, 256 channels over P2–P5) and of the mask head
 * (128 positive RoIs per image, 14×14), and the five fused losses (RPN objectness and box regression over
 * 2·242,991 anchors, box-head classification and regression over 1024 RoIs × 91 classes, mask BCE over
 * 256 RoIs × 28×28 × 91). Each figure is ms per call, from `reps` calls encoded back to back and one sync.
 * @module
 */
import { getGpu, type Tensor, tensorFromArray } from "../../ops/mod.ts";
import {
  bceWithLogits,
  countNonzero,
  maskBceLoss,
  smoothL1,
  smoothL1ClassSelected,
  softmaxCrossEntropy,
} from "../../ops/losses.ts";
import { multiScaleRoiAlignBackward } from "../../ops/roi_align_backward.ts";
import type { BenchRow } from "./_report.ts";

function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a * 1664525 + 1013904223) >>> 0;
    return a / 4294967296;
  };
}

/** `count` RoIs per image over `images` images, sides log-uniform in [16, 800] px, inside h×w. */
function rois(count: number, images: number, h: number, w: number, seed: number): Tensor {
  const next = seeded(seed);
  const out = new Float32Array(count * images * 5);
  for (let i = 0; i < count * images; i++) {
    const bw = Math.min(w, 16 * 50 ** next());
    const bh = Math.min(h, 16 * 50 ** next());
    const x = next() * (w - bw);
    const y = next() * (h - bh);
    out.set([Math.floor(i / count), x, y, x + bw, y + bh], i * 5);
  }
  return tensorFromArray(out, [count * images, 5]);
}

function floats(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const next = seeded(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * next());
}

function mask(n: number, p: number, seed: number): Tensor {
  const next = seeded(seed);
  return tensorFromArray(Uint32Array.from({ length: n }, () => (next() < p ? 1 : 0)), [n]);
}

async function msPerCall(run: () => Tensor[], reps: number): Promise<number> {
  const gpu = await getGpu();
  for (const t of run()) t.dispose();
  await gpu.sync();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) for (const t of run()) t.dispose();
  await gpu.sync();
  return (performance.now() - t0) / reps;
}

/** Runs the training-op benchmarks. */
export async function benchTrainOps(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const add = (label: string, value: number, key: string) => rows.push({ label, value, unit: "ms", key });
  const [h, w, c, n] = [800, 1216, 256, 2];
  const shapes = { p2: [n, 200, 304, c], p3: [n, 100, 152, c], p4: [n, 50, 76, c], p5: [n, 25, 38, c] };
  const images: [number, number][] = [[h, w], [h, w]];
  const boxRois = rois(512, n, h, w, 7);
  const boxGrad = tensorFromArray(floats(1024 * 7 * 7 * c, 1), [1024, 7, 7, c]);
  const grads = (g: Tensor, r: Tensor, size: number, method: "gather" | "atomic") =>
    Object.values(
      multiScaleRoiAlignBackward(g, r, shapes, images, { outputSize: size, samplingRatio: 2, method }),
    );
  const maskRois = rois(128, n, h, w, 8);
  const maskGrad = tensorFromArray(floats(256 * 14 * 14 * c, 2), [256, 14, 14, c]);
  // the deterministic gather (the default) and the float-atomic scatter, side by side
  for (const method of ["gather", "atomic"] as const) {
    const suffix = method === "gather" ? "" : "_atomic";
    add(
      `multiscale_roi_align backward 2×512 RoIs 7×7, 256 ch, P2–P5 (${method})`,
      await msPerCall(() => grads(boxGrad, boxRois, 7, method), 2),
      `roi_align_backward_box${suffix}_ms`,
    );
    add(
      `multiscale_roi_align backward 2×128 RoIs 14×14, 256 ch, P2–P5 (${method})`,
      await msPerCall(() => grads(maskGrad, maskRois, 14, method), 2),
      `roi_align_backward_mask${suffix}_ms`,
    );
  }
  boxGrad.dispose();
  maskGrad.dispose();

  const anchors = 2 * 242991;
  const objectness = tensorFromArray(floats(anchors, 3, -6, 6), [anchors]);
  const labels01 = tensorFromArray(floats(anchors, 4, 0, 1).map((v) => (v < 0.3 ? 1 : 0)), [anchors]);
  const sampled = mask(anchors, 512 / 242991, 5);
  const count = countNonzero(sampled);
  add(
    "RPN objectness BCE, 2·242,991 anchors",
    await msPerCall(() => Object.values(bceWithLogits(objectness, labels01, sampled, count)), 5),
    "loss_rpn_objectness_ms",
  );
  const deltas = tensorFromArray(floats(anchors * 4, 6), [anchors, 4]);
  const targets = tensorFromArray(floats(anchors * 4, 7), [anchors, 4]);
  add(
    "RPN box smooth L1, 2·242,991 anchors × 4",
    await msPerCall(() => Object.values(smoothL1(deltas, targets, sampled, 1 / 9, count)), 5),
    "loss_rpn_box_ms",
  );
  const [r, classes] = [1024, 91];
  const logits = tensorFromArray(floats(r * classes, 8, -4, 4), [r, classes]);
  const labels = tensorFromArray(Int32Array.from(floats(r, 9, 0, classes), Math.floor), [r]);
  const positive = mask(r, 0.25, 10);
  add(
    "box-head cross-entropy, 1024 RoIs × 91",
    await msPerCall(() => Object.values(softmaxCrossEntropy(logits, labels)), 5),
    "loss_box_cls_ms",
  );
  const regression = tensorFromArray(floats(r * 4 * classes, 11), [r, 4 * classes]);
  const regTargets = tensorFromArray(floats(r * 4, 12), [r, 4]);
  add(
    "box-head smooth L1 (class-selected), 1024 × 364",
    await msPerCall(
      () => Object.values(smoothL1ClassSelected(regression, labels, regTargets, positive, 1 / 9, r)),
      5,
    ),
    "loss_box_reg_ms",
  );
  const m = 256;
  const maskLogits = tensorFromArray(floats(m * 28 * 28 * classes, 13), [m, 28, 28, classes]);
  const maskLabels = tensorFromArray(Int32Array.from(floats(m, 14, 1, classes), Math.floor), [m]);
  const maskTargets = tensorFromArray(floats(m * 28 * 28, 15, 0, 1), [m, 28, 28]);
  const maskPositive = mask(m, 1, 16);
  const maskCount = countNonzero(maskPositive);
  add(
    "mask BCE, 256 RoIs × 28² × 91",
    await msPerCall(
      () => Object.values(maskBceLoss(maskLogits, maskLabels, maskTargets, maskPositive, maskCount)),
      2,
    ),
    "loss_mask_ms",
  );
  for (
    const t of [boxRois, maskRois, objectness, labels01, sampled, count, deltas, targets, logits, labels]
      .concat([
        positive,
        regression,
        regTargets,
        maskLogits,
        maskLabels,
        maskTargets,
        maskPositive,
        maskCount,
      ])
  ) t.dispose();
  return rows;
}
