/**
 * RoI op benchmarks at Mask R-CNN sizes: RoIAlign of 1000 boxes over a 256-channel stride-4 map of an
 * 800×1216 image (7×7 box head, 14×14 mask head), MultiScaleRoIAlign over P2–P5 of that image, and the
 * paste of 100 masks of 28×28 into an 800×1066 image. Each figure is ms per call, from `reps` calls
 * encoded back to back and one sync.
 * @module
 */
import { getGpu, type Tensor, tensorFromArray } from "../../ops/mod.ts";
import { multiScaleRoiAlign } from "../../ops/multiscale_roi_align.ts";
import { pasteMasks } from "../../ops/paste_masks.ts";
import { roiAlign } from "../../ops/roi_align.ts";
import type { BenchRow } from "./_report.ts";

function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a * 1664525 + 1013904223) >>> 0;
    return a / 4294967296;
  };
}

/** `count` boxes (x1, y1, x2, y2) with sides log-uniform in [16, 800] px, inside an h×w image. */
function boxes(count: number, h: number, w: number, seed: number): Float32Array {
  const next = seeded(seed);
  const out = new Float32Array(count * 4);
  for (let i = 0; i < count; i++) {
    const bw = Math.min(w, 16 * 50 ** next());
    const bh = Math.min(h, 16 * 50 ** next());
    const x = next() * (w - bw);
    const y = next() * (h - bh);
    out.set([x, y, x + bw, y + bh], i * 4);
  }
  return out;
}

function rois(count: number, h: number, w: number): Tensor {
  const b = boxes(count, h, w, 7);
  const out = new Float32Array(count * 5);
  for (let i = 0; i < count; i++) out.set([0, ...b.subarray(i * 4, i * 4 + 4)], i * 5);
  return tensorFromArray(out, [count, 5]);
}

function map(h: number, w: number, c: number): Tensor {
  const next = seeded(h * w);
  return tensorFromArray(Float32Array.from({ length: h * w * c }, () => next() - 0.5), [1, h, w, c]);
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

/** Runs the RoI benchmarks. */
export async function benchRoi(): Promise<BenchRow[]> {
  const [h, w, c] = [800, 1216, 256];
  const levels = { p2: map(200, 304, c), p3: map(100, 152, c), p4: map(50, 76, c), p5: map(25, 38, c) };
  const r1000 = rois(1000, h, w);
  const r100 = rois(100, h, w);
  const rows: BenchRow[] = [];
  const add = (label: string, value: number, key: string) => rows.push({ label, value, unit: "ms", key });
  add(
    "roi_align 1000 RoIs 7×7, 256 ch (P2)",
    await msPerCall(() => [roiAlign(levels.p2, r1000, 7, 0.25, 2, false)], 3),
    "roi_align_7x7_ms",
  );
  add(
    "roi_align 1000 RoIs 14×14, 256 ch (P2)",
    await msPerCall(() => [roiAlign(levels.p2, r1000, 14, 0.25, 2, false)], 3),
    "roi_align_14x14_ms",
  );
  const shapes: [number, number][] = [[h, w]];
  add(
    "multiscale_roi_align P2–P5 1000 RoIs 7×7",
    await msPerCall(
      () => [multiScaleRoiAlign(levels, r1000, shapes, { outputSize: 7, samplingRatio: 2 })],
      3,
    ),
    "multiscale_roi_align_7x7_ms",
  );
  add(
    "multiscale_roi_align P2–P5 100 RoIs 14×14",
    await msPerCall(
      () => [multiScaleRoiAlign(levels, r100, shapes, { outputSize: 14, samplingRatio: 2 })],
      3,
    ),
    "multiscale_roi_align_14x14_ms",
  );
  const next = seeded(3);
  const masks = tensorFromArray(Float32Array.from({ length: 100 * 28 * 28 }, () => next()), [100, 28, 28]);
  const pasteBoxes = tensorFromArray(boxes(100, 800, 1066, 11), [100, 4]);
  add(
    "paste_masks 100 × 28² into 800×1066 (probs + binary)",
    await msPerCall(() => {
      const { probs, binary } = pasteMasks(masks, pasteBoxes, [800, 1066]);
      return [probs!, binary];
    }, 2),
    "paste_masks_100_ms",
  );
  for (const t of [...Object.values(levels), r1000, r100, masks, pasteBoxes]) t.dispose();
  return rows;
}
