/**
 * The deterministic RoIAlign backward (the gather, `method: "gather"`, the default) against a float64
 * reference written from torchvision's CPU kernel (tests/ops/_roi_align_reference.ts), and run against
 * itself: repeated runs, bounded or not, must agree bit for bit. The float-atomic scatter is checked against
 * the same reference where it shares the behaviour (rows not in use are skipped).
 */
import assert from "node:assert/strict";
import { getGpu, readTensors, type Tensor, tensorFromArray } from "../../ops/mod.ts";
import { setBoundedDispatch } from "../../ops/kernel.ts";
import { roiLevels, setupScales } from "../../ops/multiscale_roi_align.ts";
import {
  multiScaleRoiAlignBackward,
  roiAlignBackward,
  type RoiAlignBackwardMethod,
} from "../../ops/roi_align_backward.ts";
import { assertClose, randomFloats, rng } from "../_util.ts";
import { roiAlignBackwardReference } from "./_roi_align_reference.ts";

await getGpu();

/**
 * `r` RoIs over an h×w map seen at `scale`: most inside, some crossing the borders, tiny (< 1 px),
 * inverted (x2 < x1), and batch indices outside [0, 2) — every boundary rule of the kernel.
 */
function mixedRois(r: number, h: number, w: number, scale: number, seed: number): Float32Array {
  const next = rng(seed);
  const out = new Float32Array(r * 5);
  const [H, W] = [h / scale, w / scale];
  for (let i = 0; i < r; i++) {
    const kind = i % 8;
    const x1 = (next() * 1.3 - 0.15) * W;
    const y1 = (next() * 1.3 - 0.15) * H;
    let [bw, bh] = [next() * W * 0.7, next() * H * 0.7];
    if (kind === 5) [bw, bh] = [next() * 1.5, next() * 1.5]; // tiny
    if (kind === 6) [bw, bh] = [-next() * 6, next() * 8]; // inverted
    const b = kind === 7 ? [-1, 2][i % 2] : i % 2;
    out.set([b, x1, y1, x1 + bw, y1 + bh], i * 5);
  }
  return out;
}

const CASES = [
  { aligned: false, sampling: 2 },
  { aligned: false, sampling: 0 },
  { aligned: true, sampling: 2 },
  { aligned: true, sampling: 0 },
];

for (const c of [3, 8, 32, 64]) { // channel units per invocation: 1, 1, 8, 16
  for (const { aligned, sampling } of CASES) {
    Deno.test(`roiAlignBackward (gather) matches the float64 reference: C=${c} aligned=${aligned} sampling=${sampling}`, async () => {
      const shape = [2, 19, 27, c] as const;
      const r = 48;
      const rois = mixedRois(r, shape[1], shape[2], 0.5, 11 + c);
      const gradOut = randomFloats(r * 5 * 4 * c, 3 + c);
      const grad = roiAlignBackward(
        tensorFromArray(gradOut, [r, 5, 4, c]),
        tensorFromArray(rois, [r, 5]),
        [...shape],
        0.5,
        sampling,
        aligned,
      );
      const expected = roiAlignBackwardReference(gradOut, rois, shape, {
        outputSize: [5, 4],
        scale: 0.5,
        samplingRatio: sampling,
        aligned,
      });
      assert.ok(expected.some((v) => v !== 0));
      assertClose(await grad.read(), expected, 1e-4, `C=${c}`);
    });
  }
}

/** Box-head-like RoIs on P2–P5 of two 128×128 images: rows from `count` on hold stale values. */
async function multiLevelCase(method: RoiAlignBackwardMethod, bounded: boolean): Promise<void> {
  const [capacity, count, c] = [96, 40, 16];
  const shapes = { p2: [2, 32, 32, c], p3: [2, 16, 16, c], p4: [2, 8, 8, c], p5: [2, 4, 4, c] };
  const next = rng(5);
  const rois = new Float32Array(capacity * 5);
  for (let i = 0; i < capacity; i++) {
    const side = [60, 160, 320, 640][i % 4]; // P2..P5 (level boundaries at 112, 224, 448)
    const [x, y] = [next() * 128 - side / 2, next() * 128 - side / 2];
    rois.set([i % 2, x, y, x + side * (0.85 + 0.3 * next()), y + side * (0.85 + 0.3 * next())], i * 5);
  }
  const gradOut = randomFloats(capacity * 7 * 7 * c, 9);
  gradOut.fill(1e3, count * 7 * 7 * c); // stale rows: must not reach the gradient
  const base = randomFloats(2 * 16 * 16 * c, 4);
  const into = tensorFromArray(base, shapes.p3);
  const roisT = tensorFromArray(rois, [capacity, 5]);
  setBoundedDispatch(bounded);
  let grads: Record<string, Tensor>;
  try {
    grads = multiScaleRoiAlignBackward(tensorFromArray(gradOut, [capacity, 7, 7, c]), roisT, shapes, [[
      128,
      128,
    ]], {
      outputSize: 7,
      samplingRatio: 2,
      occupied: { counts: tensorFromArray(new Uint32Array([count]), [1]) },
      into: { p3: into },
      method,
    });
  } finally {
    setBoundedDispatch(true);
  }
  const { scales, mapper } = setupScales([32, 16, 8, 4], [[128, 128]]);
  const levels = await roiLevels(roisT, mapper).read(); // equal to torchvision's LevelMapper (own test)
  const names = ["p2", "p3", "p4", "p5"] as const;
  const data = await readTensors(names.map((n) => grads[n]));
  names.forEach((name, l) => {
    const rows = [...Array(count).keys()].filter((r) => levels[r] === l);
    assert.ok(rows.length > 0, `RoIs on ${name}`);
    const shape = shapes[name] as [number, number, number, number];
    const start = name === "p3" ? Float64Array.from(base) : undefined;
    const geometry = { outputSize: [7, 7] as const, scale: scales[l], samplingRatio: 2, aligned: false };
    const expected = roiAlignBackwardReference(gradOut, rois, shape, geometry, rows, start);
    assertClose(data[l], expected, 1e-4, `${method} ${name}`);
  });
  assert.equal(grads.p3, into);
}

for (const method of ["gather", "atomic"] as const) {
  for (const bounded of [true, false]) {
    Deno.test(`multiScaleRoiAlignBackward (${method}, ${bounded ? "bounded" : "full"} dispatch) uses only the occupied rows and adds into \`into\``, () =>
      multiLevelCase(method, bounded));
  }
}

Deno.test("roiAlignBackward (gather) is bit for bit the same on every run, bounded or not, where hundreds of RoIs overlap", async () => {
  // 300 RoIs covering 12×13 maps (~1,500 adds per element: the float-atomic scatter differs in the last
  // bits from run to run here) and the same in a mask-head-like layout bounded by a GPU-side count.
  const shape = [2, 12, 13, 16];
  const r = 300;
  const next = rng(8);
  const rois = new Float32Array(r * 5);
  for (let i = 0; i < r; i++) {
    const [x, y] = [next() * 26, next() * 24];
    rois.set([i % 2, x, y, x + next() * 48, y + next() * 48], i * 5);
  }
  const roisT = tensorFromArray(rois, [r, 5]);
  const gradOut = tensorFromArray(randomFloats(r * 14 * 14 * 16, 2), [r, 14, 14, 16]);
  const counts = tensorFromArray(new Uint32Array([230]), [1]);
  const shapes = { p2: shape };
  const runs: Tensor[] = [];
  for (const bounded of [true, true, true, false, false]) {
    setBoundedDispatch(bounded);
    try {
      runs.push(roiAlignBackward(gradOut, roisT, shape, 0.5, 2, false));
      runs.push(
        multiScaleRoiAlignBackward(gradOut, roisT, shapes, [[24, 26]], {
          featmapNames: ["p2"],
          outputSize: 14,
          samplingRatio: 2,
          occupied: { counts },
        }).p2,
      );
    } finally {
      setBoundedDispatch(true);
    }
  }
  const data = await readTensors(runs);
  assert.ok(data[0].some((v) => v !== 0) && data[1].some((v) => v !== 0));
  for (let i = 2; i < data.length; i++) assert.deepEqual(data[i], data[i % 2], `run ${i >> 1}`);
});
