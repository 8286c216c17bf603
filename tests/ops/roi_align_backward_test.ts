import assert from "node:assert/strict";
import { getGpu, readTensors, ShapeError, type Tensor, tensorFromArray } from "../../ops/mod.ts";
import { multiScaleRoiAlignBackward, roiAlignBackward } from "../../ops/roi_align_backward.ts";
import { loadFixture } from "../_fixtures.ts";
import { assertClose, randomFloats, relativeError } from "../_util.ts";

const gpu = await getGpu();

/**
 * The three backward paths: the deterministic gather (the default), and the float-atomic scatter with
 * native f32 `atomicAdd` (where the device has it) or with the u32 compare-exchange loop.
 */
const PATHS = ["gather", "f32 atomics", "cas atomics"] as const;
type Path = typeof PATHS[number];
const hasFloatAtomics = gpu.useFloatAtomics;
const unavailable = (path: Path) => path === "f32 atomics" && !hasFloatAtomics;
const methodOf = (path: Path) => path === "gather" ? "gather" as const : "atomic" as const;

/** Runs `fn` with the scatter's atomics forced to the path's (the gather has none). */
async function onPath(path: Path, fn: () => Promise<void>): Promise<void> {
  const saved = gpu.useFloatAtomics;
  if (path !== "gather") gpu.useFloatAtomics = path === "f32 atomics";
  try {
    await fn();
  } finally {
    gpu.useFloatAtomics = saved;
  }
}

// torchvision 0.14 roi_align backward in float64 on input [2, 23, 31, 4] (tools/reference/
// make_backward_fixtures.py): RoIs crossing borders, tiny, inverted, duplicated; C = 3 is checked on a
// channel slice (the gradient is per channel) to cover the scalar path.
const fx = loadFixture("ops/roi_align_backward.json");
const rois = tensorFromArray(fx.tensors.rois.data as Float32Array, fx.tensors.rois.shape);
const inputShape = fx.meta.input_shape as number[];
const spatialScale = fx.meta.spatial_scale as number;

function sliceChannels(data: ArrayLike<number>, from: number, c: number): Float32Array {
  const pixels = data.length / from;
  const out = new Float32Array(pixels * c);
  for (let i = 0; i < pixels; i++) for (let k = 0; k < c; k++) out[i * c + k] = data[i * from + k];
  return out;
}

interface Case {
  name: string;
  output: number;
  aligned: boolean;
  sampling: number;
}

for (const cs of fx.meta.cases as Case[]) {
  const g = fx.tensors[`${cs.name}_grad_out`];
  const expected = fx.tensors[`${cs.name}_grad_x`];
  const full = inputShape[3];
  for (const c of [full, 3]) {
    for (const path of PATHS) {
      Deno.test({
        name: `roiAlignBackward ${cs.name} C=${c} matches torchvision autograd (${path})`,
        ignore: unavailable(path),
        fn: () =>
          onPath(path, async () => {
            const gradOut = tensorFromArray(sliceChannels(g.data, full, c), [...g.shape.slice(0, 3), c]);
            const shape = [...inputShape.slice(0, 3), c];
            const grad = roiAlignBackward(
              gradOut,
              rois,
              shape,
              spatialScale,
              cs.sampling,
              cs.aligned,
              undefined,
              {
                method: methodOf(path),
              },
            );
            assert.deepEqual(grad.shape, shape);
            assertClose(await grad.read(), sliceChannels(expected.data, full, c), 1e-5, cs.name);
          }),
      });
    }
  }
}

/** `r` RoIs alternating between 2 images, corners uniform over an h×w map at scale 0.5, sides ≤ `span`. */
function randomRois(r: number, h: number, w: number, span: number, seed: number): Tensor {
  const v = randomFloats(r * 5, seed, 0, 1);
  for (let i = 0; i < r; i++) {
    const [x1, y1] = [v[i * 5 + 1] * 2 * w, v[i * 5 + 2] * 2 * h];
    v.set([i % 2, x1, y1, x1 + v[i * 5 + 3] * span, y1 + v[i * 5 + 4] * span], i * 5);
  }
  return tensorFromArray(v, [r, 5]);
}

/** Worst relative difference between `runs` float-atomic backward passes (the order of adds varies). */
async function repeatSpread(r: number, shape: number[], span: number, runs: number): Promise<Float32Array> {
  const boxes = randomRois(r, shape[1], shape[2], span, r);
  const gradOut = tensorFromArray(randomFloats(r * 7 * 7 * shape[3], 6), [r, 7, 7, shape[3]]);
  const grads = Array.from(
    { length: runs },
    () => roiAlignBackward(gradOut, boxes, shape, 0.5, 2, false, undefined, { method: "atomic" }),
  );
  const data = await readTensors(grads);
  const spread = Float32Array.from(data.slice(1), (d) => relativeError(d, data[0]));
  assert.ok(data[0].some((v) => v !== 0));
  return spread;
}

for (const mode of ["f32", "cas"] as const) {
  const ignore = mode === "f32" && !hasFloatAtomics;
  const withAtomics = (fn: () => Promise<void>) => onPath(`${mode} atomics`, fn);
  Deno.test({
    name: `roiAlignBackward repeated runs agree to 1e-6 at Mask R-CNN-like RoI density (${mode} atomics)`,
    ignore,
    fn: () =>
      withAtomics(async () => {
        // 128 RoIs on 2 maps of 37×53 (each pixel under a few to tens of RoIs; measured spread ~2e-7).
        for (const e of await repeatSpread(128, [2, 37, 53, 8], 60, 6)) {
          assert.ok(e <= 1e-6, `repeated runs differ by ${e.toExponential(2)}`);
        }
      }),
  });

  Deno.test({
    name: `roiAlignBackward repeated runs agree to 1e-5 when hundreds of RoIs cover every pixel (${mode})`,
    ignore,
    fn: () =>
      withAtomics(async () => {
        // 300 RoIs all covering 12×13 maps: ~1,500 random-sign adds per element; the f32 rounding of a
        // different order of additions reaches ~1.6e-6 of the largest gradient here.
        for (const e of await repeatSpread(300, [2, 12, 13, 8], 48, 4)) {
          assert.ok(e <= 1e-5, `repeated runs differ by ${e.toExponential(2)}`);
        }
      }),
  });
}

for (const method of ["gather", "atomic"] as const) {
  Deno.test(`roiAlignBackward \`into\` adds the gradient to the caller's tensor (${method})`, async () => {
    const shape = [2, 23, 31, 4];
    const gradOut = tensorFromArray(fx.tensors.out7_legacy_s2_grad_out.data as Float32Array, [16, 7, 7, 4]);
    const base = tensorFromArray(randomFloats(2 * 23 * 31 * 4, 7), shape);
    const before = await base.read();
    assert.equal(roiAlignBackward(gradOut, rois, shape, spatialScale, 2, false, base, { method }), base);
    const expected = (fx.tensors.out7_legacy_s2_grad_x.data as Float32Array).map((v, i) => v + before[i]);
    assertClose(await base.read(), expected, 1e-5, "into");
  });
}

// MultiScaleRoIAlign over P2–P5 of two images (200×304 batched), torch autograd in f32.
const ms = loadFixture("ops/multiscale_roi_align_backward.json");
for (const path of PATHS) {
  Deno.test({
    name: `multiScaleRoiAlignBackward matches torchvision autograd on every level (${path})`,
    ignore: unavailable(path),
    fn: () => onPath(path, () => multiScaleParity(methodOf(path))),
  });
}

async function multiScaleParity(method: "gather" | "atomic"): Promise<void> {
  const msRois = tensorFromArray(ms.tensors.rois.data as Float32Array, ms.tensors.rois.shape);
  const g = ms.tensors.grad_out;
  const shapes = ms.meta.feature_shapes as Record<string, number[]>;
  const grads = multiScaleRoiAlignBackward(
    tensorFromArray(g.data as Float32Array, g.shape),
    msRois,
    shapes,
    ms.meta.image_shapes as [number, number][],
    { outputSize: 7, samplingRatio: 2, method },
  );
  const names = ["p2", "p3", "p4", "p5"];
  const data = await readTensors(names.map((n) => grads[n]));
  names.forEach((n, i) => {
    assert.deepEqual(grads[n].shape, shapes[n]);
    assertClose(data[i], ms.tensors[`grad_${n}`].data, 1e-5, n);
  });
  // Every level received some gradient (the fixture's boxes map to all four).
  assert.ok(data.every((d) => d.some((v) => v !== 0)));
}

Deno.test("roiAlignBackward and multiScaleRoiAlignBackward reject bad shapes, naming op and shapes", () => {
  const g = tensorFromArray(new Float32Array(16 * 7 * 7 * 4), [16, 7, 7, 4]);
  assert.throws(
    () => roiAlignBackward(g, rois, [2, 23, 31, 5], 0.25, 2),
    (e: Error) => e instanceof ShapeError && /roi_align_backward: gradOut \[16,7,7,4\] f32/.test(e.message),
  );
  assert.throws(
    () => roiAlignBackward(g, rois, [2, 23, 31], 0.25, 2),
    (e: Error) => e instanceof ShapeError && /inputShape \[2,23,31\]/.test(e.message),
  );
  assert.throws(
    () => roiAlignBackward(g, rois.reshape([20, 4]), [2, 23, 31, 4]),
    (e: Error) => e instanceof ShapeError && /rois must be \[R, 5\]/.test(e.message),
  );
  const into = tensorFromArray(new Float32Array(4), [1, 1, 1, 4]);
  assert.throws(
    () => roiAlignBackward(g, rois, [2, 23, 31, 4], 0.25, 2, false, into),
    (e: Error) =>
      e instanceof ShapeError && /into.input \[1,1,1,4\] f32 must be \[2,23,31,4\]/.test(e.message),
  );
  const shapes = { p2: [2, 8, 8, 4], p3: [2, 4, 4, 4], p4: [2, 2, 2, 4], p5: [2, 1, 1, 3] };
  assert.throws(
    () => multiScaleRoiAlignBackward(g, rois, shapes, [[32, 32]], { outputSize: 7, samplingRatio: 2 }),
    (e: Error) =>
      e instanceof ShapeError && /multiscale_roi_align_backward: featureShapes.p5/.test(e.message),
  );
  assert.throws(
    () =>
      multiScaleRoiAlignBackward(g, rois, { p2: [2, 8, 8, 4] }, [[32, 32]], {
        outputSize: 5,
        samplingRatio: 2,
      }),
    (e: Error) => e instanceof ShapeError && /feature shapes p3, p4, p5 missing/.test(e.message),
  );
});
