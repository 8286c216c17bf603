/**
 * Selection-op benchmarks: NMS of 4000 boxes, top-1000 of 2 × 182,400 RPN scores, and box-head batched NMS
 * (1000 proposals × 90 classes). Each figure encodes several calls and syncs once (no read-back).
 * @module
 */
import { getGpu, type Tensor, tensorFromArray } from "../../ops/mod.ts";
import { batchedNms, nms } from "../../ops/nms.ts";
import { topk } from "../../ops/topk.ts";
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

/** Boxes in overlapping clusters over an 1216 × 800 image (as the NMS fixtures). */
function clusteredBoxes(n: number, seed: number): Float32Array {
  const next = rng(seed);
  const clusters = Math.max(1, Math.floor(n / 25));
  const centres = Array.from(
    { length: clusters },
    () => [next() * 1300 - 40, next() * 880 - 40, 24 + next() * 200],
  );
  const out = new Float32Array(n * 4);
  for (let i = 0; i < n; i++) {
    const [cx, cy, size] = centres[Math.floor(next() * clusters)];
    const x = cx + (next() - 0.5) * 0.3 * size;
    const y = cy + (next() - 0.5) * 0.3 * size;
    const w = size * (0.75 + 0.55 * next());
    const h = size * (0.75 + 0.55 * next());
    out.set([x - w / 2, y - h / 2, x + w / 2, y + h / 2], 4 * i);
  }
  return out;
}

function randomScores(n: number, seed: number, power = 1): Float32Array {
  const next = rng(seed);
  return Float32Array.from({ length: n }, () => next() ** power);
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

/** NMS, top-k and batched-NMS timings. */
export async function benchNms(): Promise<BenchRow[]> {
  await getGpu();
  const boxes = tensorFromArray(clusteredBoxes(4000, 1), [4000, 4]);
  const scores = tensorFromArray(randomScores(4000, 2), [4000]);
  const nmsMs = await msPerCall(() => {
    const r = nms(boxes, scores, 0.7, { maxOut: 1000 });
    return [r.keep, r.scores, r.count];
  }, 5);

  const len = 200 * 304 * 3;
  const rpn = tensorFromArray(randomScores(2 * len, 3), [2, len]);
  const topkMs = await msPerCall(() => {
    const r = topk(rpn, 1000);
    return [r.indices, r.values, r.counts];
  }, 5);

  // Box head: 1000 proposals × 90 classes, labels = position % 90, candidates where score > 0.05.
  const classes = 90;
  const n = 1000 * classes;
  const headScores = randomScores(n, 4, 16);
  const valid = Uint32Array.from(headScores, (s) => (s > 0.05 ? 1 : 0));
  const labels = Int32Array.from({ length: n }, (_, i) => i % classes);
  const head = {
    boxes: tensorFromArray(clusteredBoxes(n, 5), [n, 4]),
    scores: tensorFromArray(headScores, [n]),
    labels: tensorFromArray(labels, [n]),
    valid: tensorFromArray(valid, [n]),
  };
  const batchedMs = await msPerCall(() => {
    const r = batchedNms(head.boxes, head.scores, head.labels, 0.5, classes, {
      valid: head.valid,
      maxOut: 100,
      maxPerSegment: 1000,
    });
    return [r.keep, r.scores, r.count];
  }, 3);
  const candidates = valid.reduce((a, b) => a + b, 0);
  for (const t of [boxes, scores, rpn, ...Object.values(head)]) t.dispose();
  return [
    { label: "nms 4000 boxes (IoU 0.7)", value: nmsMs, unit: "ms", key: "nms_4000_ms" },
    { label: "top-1000 of 182,400 scores × 2 images", value: topkMs, unit: "ms", key: "topk_182k_ms" },
    {
      label: `batched nms 1000 × 90 classes (${candidates} valid)`,
      value: batchedMs,
      unit: "ms",
      key: "batched_nms_ms",
    },
  ];
}
