/**
 * Benchmarks of the basic ops: the image transform of one 480×640 RGB image to 800×1066 (padded batch
 * [1, 800, 1088, 3], upload of the bytes included), the ResNet stem max pool of an 800×1216 image
 * (x [1, 400, 608, 64] → [1, 200, 304, 64]) and the RPN box decode of 200,000 boxes. Each figure is the
 * mean over several calls encoded back to back with one sync at the end.
 * @module
 */
import { getGpu, tensorFromArray } from "../../ops/mod.ts";
import { decodeBoxes } from "../../ops/box_coder.ts";
import { imageTransform } from "../../ops/image_transform.ts";
import { maxPool2d } from "../../ops/pool.ts";
import type { BenchRow } from "./_report.ts";
import { BBOX_XFORM_CLIP, MASKRCNN_RESNET50_FPN, RPN_BOX_WEIGHTS } from "../../model/config.ts";
import { transformOptions } from "../../model/stage_config.ts";

async function meanMs(reps: number, run: () => void): Promise<number> {
  const gpu = await getGpu();
  run(); // warm-up: pipeline compile and pool buffers
  await gpu.sync();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) run();
  await gpu.sync();
  return (performance.now() - t0) / reps;
}

/** Times image transform, stem max pool and box decode. */
export async function benchBasic(): Promise<BenchRow[]> {
  await getGpu();
  const reps = 3;

  const image = {
    data: new Uint8Array(480 * 640 * 3).map((_, i) => (i * 37) & 255),
    height: 480,
    width: 640,
  };
  const transform = transformOptions(MASKRCNN_RESNET50_FPN);
  const transformMs = await meanMs(reps, () => imageTransform([image], transform).images.dispose());

  const stemElements = 400 * 608 * 64;
  const stem = tensorFromArray(new Float32Array(stemElements).map((_, i) => Math.sin(i)), [1, 400, 608, 64]);
  const poolMs = await meanMs(reps, () => maxPool2d(stem, { kernel: 3, stride: 2, padding: 1 }).dispose());
  const poolBytes = (stemElements + stemElements / 4) * 4;

  const boxes = 200_000;
  const anchors = new Float32Array(boxes * 4).map((_, i) => (i % 4 < 2 ? 0 : 16) + (i % 97) * 3);
  const deltas = new Float32Array(boxes * 4).map((_, i) => Math.sin(i) * 0.5);
  const anchorT = tensorFromArray(anchors, [boxes, 4]);
  const deltaT = tensorFromArray(deltas, [boxes, 4]);
  const decodeMs = await meanMs(
    reps,
    () => decodeBoxes(deltaT, anchorT, RPN_BOX_WEIGHTS, BBOX_XFORM_CLIP).dispose(),
  );

  stem.dispose();
  anchorT.dispose();
  deltaT.dispose();
  return [
    {
      label: "image transform 480×640 → 800×1066 (pad 800×1088)",
      value: transformMs,
      unit: "ms",
      key: "image_transform_800_ms",
    },
    {
      label: "max pool stem 3×3/2 of 800×1216 (64 ch)",
      value: poolMs,
      unit: "ms",
      key: "maxpool_stem_800x1216_ms",
    },
    {
      label: "max pool stem effective bandwidth",
      value: poolBytes / (poolMs / 1000) / 1e9,
      unit: "GB/s",
      key: "maxpool_stem_gbps",
    },
    { label: "box decode 200k boxes (RPN weights)", value: decodeMs, unit: "ms", key: "box_decode_200k_ms" },
  ];
}
