/**
 * `detect` latency: R50-FPN at 800×1066 (deterministic weights: speed does not depend on their values) with
 * a per-stage breakdown (a second pass that syncs after each stage), peak GPU memory, and the small model
 * on a 128×128 image.
 * @module
 */
import { currentGpu, getGpu, imageTransform } from "../../ops/mod.ts";
import { detectImages } from "../../model/detect.ts";
import type { RawImage } from "../../model/transform.ts";
import { transformOptions } from "../../model/stage_config.ts";
import { fpnForward } from "../../model/fpn.ts";
import { maskBranch } from "../../model/mask_head.ts";
import type { MaskRcnnModel } from "../../model/mask_rcnn.ts";
import { paramTensors } from "../../model/params.ts";
import { resnetForward } from "../../model/resnet.ts";
import { boxBranch } from "../../model/roi_heads.ts";
import { rpnForward } from "../../model/rpn.ts";
import type { BenchRow } from "./_report.ts";
import { deterministicModel } from "./_models.ts";
import { dispatchStats } from "../../ops/kernel.ts";

/** A smooth deterministic RGB test image (no file needed). */
export function syntheticImage(width: number, height: number): RawImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = 3 * (y * width + x);
      data[o] = 128 + 100 * Math.sin(x / 37) * Math.cos(y / 23);
      data[o + 1] = (x * 7 + y * 3) & 255;
      data[o + 2] = 128 + 120 * Math.sin((x + y) / 91);
    }
  }
  return { data, width, height };
}

async function stages(model: MaskRcnnModel, image: RawImage): Promise<Record<string, number>> {
  const gpu = currentGpu();
  const params = model.params!;
  const config = model.config;
  const out: Record<string, number> = {};
  let t = performance.now();
  const lap = async (name: string) => {
    await gpu.sync();
    const now = performance.now();
    out[name] = now - t;
    t = now;
  };
  const held = {
    batch: imageTransform([{ ...image, channels: 3 }], transformOptions(config)),
  };
  await lap("transform");
  const pyramid = fpnForward(params, resnetForward(params, held.batch.images));
  await lap("backbone_fpn");
  const sizes = held.batch.imageSizes;
  const padded: [number, number] = [held.batch.images.shape[1], held.batch.images.shape[2]];
  const proposals = rpnForward(params, config, pyramid, sizes, padded, model.anchorCache, {
    preNmsTopN: config.rpnPreNmsTopNTest,
    postNmsTopN: config.rpnPostNmsTopNTest,
  });
  await lap("rpn");
  const detections = boxBranch(params, config, pyramid, proposals, sizes);
  await lap("box_head");
  const masks = maskBranch(params, pyramid, detections.boxes, detections.labels, detections.perImage, sizes);
  await lap("mask_head");
  for (const v of [held.batch.images, ...pyramid, proposals.boxes, proposals.valid, proposals.count, masks]) {
    v.dispose();
  }
  for (const v of [detections.boxes, detections.scores, detections.labels, detections.count]) v.dispose();
  return out;
}

/** Runs the detect benchmarks. */
export async function benchDetect(): Promise<BenchRow[]> {
  const gpu = await getGpu();
  const rows: BenchRow[] = [];
  const small = deterministicModel({ preset: "small" });
  const smallImage = syntheticImage(128, 128);
  await detectImages(small, [smallImage]);
  const runs = 5;
  const stats0 = dispatchStats();
  let t0 = performance.now();
  for (let i = 0; i < runs; i++) await detectImages(small, [smallImage]);
  rows.push({
    label: "detect, small model, 128×128",
    value: (performance.now() - t0) / runs,
    unit: "ms",
    key: "detect_small_128_ms",
  });
  const stats1 = dispatchStats();
  rows.push({
    label: "  dispatches per detect (+ wgpu's indirect checks)",
    value: (stats1.dispatches - stats0.dispatches) / runs,
    unit: `(+${(stats1.indirect - stats0.indirect) / runs})`,
    key: "detect_small_128_dispatches",
  });
  for (const t of paramTensors(small.params!)) t.dispose();

  const r50 = deterministicModel({ preset: "maskrcnn_resnet50_fpn" });
  const image = syntheticImage(1066, 800);
  await detectImages(r50, [image]); // warm-up: pipelines and pooled buffers
  gpu.pool.resetPeak();
  t0 = performance.now();
  await detectImages(r50, [image]);
  const total = performance.now() - t0;
  const peak = gpu.pool.stats().peakBytes;
  rows.push({ label: "detect, R50-FPN, 800×1066", value: total, unit: "ms", key: "detect_r50_800_ms" });
  rows.push({
    label: "  peak GPU memory (pool)",
    value: peak / 2 ** 20,
    unit: "MiB",
    key: "detect_r50_800_peak_mb",
  });
  const split = await stages(r50, image);
  const labels: Record<string, string> = {
    transform: "transform",
    backbone_fpn: "backbone + FPN",
    rpn: "RPN",
    box_head: "box head",
    mask_head: "mask head",
  };
  for (const [name, ms] of Object.entries(split)) {
    rows.push({
      label: `  ${labels[name]} (synced)`,
      value: ms,
      unit: "ms",
      key: `detect_r50_800_${name}_ms`,
    });
  }
  const rest = total - Object.values(split).reduce((a, b) => a + b, 0);
  rows.push({
    label: "  paste + read-back (remainder)",
    value: Math.max(0, rest),
    unit: "ms",
    key: "detect_r50_800_paste_ms",
  });
  for (const t of paramTensors(r50.params!)) t.dispose();
  return rows;
}
