import assert from "node:assert/strict";
import { currentGpu, getGpu, ShapeError, tensorFromArray } from "../../ops/mod.ts";
import { setBindingLimitForTesting } from "../../ops/binding_chunks.ts";
import { ROI_ALIGN_CHANNELS, roiAlign } from "../../ops/roi_align.ts";
import { loadFixture } from "../_fixtures.ts";
import { assertClose } from "../_util.ts";

await getGpu();

// torchvision 0.14 CPU roi_align on features [2, 37, 53, 16] (tools/reference/make_roi_fixtures.py).
// roi_align is per channel, so C = 4 and C = 7 are checked on channel slices of the same data.
const fx = loadFixture("ops/roi_align.json");
const feats = fx.tensors.features;
const rois = tensorFromArray(fx.tensors.rois.data as Float32Array, fx.tensors.rois.shape);
const spatialScale = fx.meta.spatial_scale as number;

/** The first `c` channels of an NHWC (or [.., C]) array whose last axis has `from` channels. */
function sliceChannels(data: ArrayLike<number>, from: number, c: number): Float32Array {
  const pixels = data.length / from;
  const out = new Float32Array(pixels * c);
  for (let i = 0; i < pixels; i++) for (let k = 0; k < c; k++) out[i * c + k] = data[i * from + k];
  return out;
}

const inputs = new Map<number, ReturnType<typeof tensorFromArray>>();
function featuresWith(c: number) {
  if (!inputs.has(c)) {
    const [n, h, w, full] = feats.shape;
    inputs.set(c, tensorFromArray(sliceChannels(feats.data, full, c), [n, h, w, c]));
  }
  return inputs.get(c)!;
}

interface Case {
  name: string;
  output: number;
  aligned: boolean;
  sampling: number;
  channels: number;
}

for (const cs of fx.meta.cases as Case[]) {
  const expected = fx.tensors[cs.name];
  for (const c of [16, 7, 4].filter((c) => c <= cs.channels)) {
    Deno.test(`roi_align ${cs.name} with C=${c} matches torchvision`, async () => {
      const out = roiAlign(featuresWith(c), rois, cs.output, spatialScale, cs.sampling, cs.aligned);
      assert.deepEqual(out.shape, [rois.shape[0], cs.output, cs.output, c]);
      assertClose(await out.read(), sliceChannels(expected.data, cs.channels, c), 1e-4, cs.name);
      out.dispose();
    });
  }
}

Deno.test("roi_align splits an output above the binding limit into aligned ranges", async () => {
  const cs = (fx.meta.cases as Case[]).find((c) => c.output === 14)!;
  setBindingLimitForTesting(4096); // 16 RoIs × 14 × 14 × 7 ch = 87,808 bytes → 22 dispatches
  try {
    for (const c of [7, 4]) {
      const before = currentGpu().dispatchCount;
      const out = roiAlign(featuresWith(c), rois, 14, spatialScale, cs.sampling, cs.aligned);
      assert.ok(currentGpu().dispatchCount - before > 10, "several dispatches");
      assertClose(
        await out.read(),
        sliceChannels(fx.tensors[cs.name].data, cs.channels, c),
        1e-4,
        `chunked C=${c}`,
      );
    }
  } finally {
    setBindingLimitForTesting(null);
  }
});

Deno.test("roi_align gives the same bits with 1, 2 or 4 channels per invocation, chunked or not", async () => {
  const saved = { ...ROI_ALIGN_CHANNELS };
  const cs = (fx.meta.cases as Case[]).find((c) => c.name === "out7_legacy_s2")!;
  const run = async (most: number, c: number, limit: number | null) => {
    ROI_ALIGN_CHANNELS.software = ROI_ALIGN_CHANNELS.hardware = most;
    setBindingLimitForTesting(limit);
    try {
      return await roiAlign(featuresWith(c), rois, cs.output, spatialScale, cs.sampling, cs.aligned).read();
    } finally {
      setBindingLimitForTesting(null);
    }
  };
  try {
    // C 16: 4 vec4 a pixel (4 per invocation); C 8: 2 vec4 (2); C 6: 6 scalars (2).
    for (const c of [16, 8, 6]) {
      const one = await run(1, c, null);
      assertClose(one, sliceChannels(fx.tensors[cs.name].data, cs.channels, c), 1e-4, `C=${c}`);
      for (const limit of [null, 4096]) {
        assert.deepEqual(await run(4, c, limit), one, `C=${c}, up to 4 per invocation, limit ${limit}`);
      }
    }
  } finally {
    Object.assign(ROI_ALIGN_CHANNELS, saved);
  }
});

Deno.test("roi_align accepts a rectangular output size and zero RoIs", async () => {
  const x = featuresWith(4);
  const out = roiAlign(x, rois, [3, 5], spatialScale, 2, true);
  assert.deepEqual(out.shape, [rois.shape[0], 3, 5, 4]);
  const none = roiAlign(x, tensorFromArray(new Float32Array(0), [0, 5]), 7, spatialScale, 2, false);
  assert.deepEqual(none.shape, [0, 7, 7, 4]);
  assert.equal((await out.read()).length, rois.shape[0] * 15 * 4);
});

Deno.test("roi_align pools zeros for a batch index outside the batch", async () => {
  const x = featuresWith(4);
  const bad = tensorFromArray(new Float32Array([2, 0, 0, 40, 40, -1, 0, 0, 40, 40]), [2, 5]);
  const out = await roiAlign(x, bad, 2, spatialScale, 2, false).read();
  assert.ok(out.every((v) => v === 0));
});

Deno.test("roi_align rejects rois that are not [R, 5] and features that are not rank 4", () => {
  const x = featuresWith(4);
  const boxes = tensorFromArray(new Float32Array(8), [2, 4]);
  assert.throws(
    () => roiAlign(x, boxes, 7),
    (e: Error) => e instanceof ShapeError && /roi_align: rois must be \[R, 5\].*\[2,4\] f32/.test(e.message),
  );
  const flat = tensorFromArray(new Float32Array(37 * 53 * 4), [37, 53, 4]);
  assert.throws(
    () => roiAlign(flat, rois, 7),
    (e: Error) => e instanceof ShapeError && /roi_align: input must have rank 4.*\[37,53,4\]/.test(e.message),
  );
  assert.throws(
    () => roiAlign(x, rois, 0),
    (e: Error) => e instanceof ShapeError && /output size/.test(e.message),
  );
});
