// The one ResNet (+ FPN) forward in its inference and recording uses, and the backward beside it:
// recording changes no number, frozen stages (trainableBackboneLayers) keep nothing and get no gradient,
// and inference keeps only its outputs alive. The gradients themselves are compared with torchvision in
// train_step_test.ts (trainableBackboneLayers 5: the stem and every stage).
import assert from "node:assert/strict";
import { getGpu, readTensors } from "../../ops/mod.ts";
import { ConfigError } from "../../model/config.ts";
import { createFpnTape, fpnBackward, fpnForward } from "../../model/fpn.ts";
import { initWeights } from "../../model/init.ts";
import { InvalidInputError } from "../../model/input_checks.ts";
import { buildModel } from "../../model/mask_rcnn.ts";
import type { ModelParams } from "../../model/params.ts";
import { createResnetTape, resnetBackward, resnetForward, type ResnetTape } from "../../model/resnet.ts";
import type { LayerGrads } from "../../model/train_params.ts";
import type { PackedConv2d } from "../../ops/conv2d.ts";
import { type Tensor, tensorFromArray, tidy } from "../../ops/tensor.ts";

const gpu = await getGpu();
const model = await buildModel({ preset: "small" });
initWeights(model, { seed: 1 });
const params = model.params!;
// Two 64×96 images of smooth deterministic values (normalised-image range).
const images = tensorFromArray(
  Float32Array.from({ length: 2 * 64 * 96 * 3 }, (_, i) => Math.sin(i * 0.37) + 0.5 * Math.cos(i * 0.011)),
  [2, 64, 96, 3],
);

/** Every conv of the ResNet body and the FPN with its stage (−1 the stem, 0..3 layer1..4, 4 the FPN). */
function backboneConvs(p: ModelParams): [PackedConv2d, number][] {
  const convs: [PackedConv2d, number][] = [[p.stem, -1]];
  p.layers.forEach((stage, s) => {
    for (const b of stage) {
      for (const c of [b.conv1, b.conv2, b.conv3, b.downsample]) if (c) convs.push([c, s]);
    }
  });
  for (const c of [...p.fpnInner, ...p.fpnLayer]) convs.push([c, 4]);
  return convs;
}

function zeroGrads(): Map<object, LayerGrads> {
  const zeros = (t: Tensor) => tensorFromArray(new Float32Array(t.size), t.shape);
  return new Map(
    backboneConvs(params).map((
      [c],
    ) => [c, { weight: zeros(c.weight), bias: c.bias ? zeros(c.bias) : undefined }]),
  );
}

function tapeTensors(tape: ResnetTape): Set<Tensor> {
  const set = new Set<Tensor>();
  for (const r of tape.blocks.flat()) for (const t of [r.x, r.a, r.b, r.identity, r.out]) set.add(t);
  if (tape.stem) { for (const t of [tape.stem.out, tape.stem.pooled]) set.add(t); }
  return set;
}

Deno.test("a recording forward gives the inference forward's C2..C5 and P2..P6 bit for bit", async () => {
  const reference = await readTensors(tidy(() => {
    const features = resnetForward(params, images);
    return [...features, ...fpnForward(params, features)];
  }));
  for (const trainableLayers of [0, 3, 5]) {
    const values = await readTensors(tidy(() => {
      const tape = createResnetTape({ trainableLayers });
      const features = resnetForward(params, images, { tape });
      return [...features, ...fpnForward(params, features, { tape: createFpnTape() })];
    }));
    values.forEach((v, i) => assert.deepEqual(v, reference[i], `trainable ${trainableLayers}, output ${i}`));
  }
});

Deno.test("the tape holds exactly the trainable stages, chained block to block", () => {
  tidy(() => {
    for (const trainableLayers of [0, 1, 3, 4, 5]) {
      const tape = createResnetTape({ trainableLayers });
      const features = resnetForward(params, images, { tape });
      const stages = Math.min(trainableLayers, 4);
      assert.equal(tape.blocks.length, stages, `trainable ${trainableLayers}`);
      assert.equal(tape.firstTrainableStage, 4 - stages);
      assert.equal(tape.stem !== null, trainableLayers === 5);
      tape.blocks.forEach((records, k) => {
        const s = tape.firstTrainableStage + k;
        assert.equal(records.length, params.layers[s].length);
        assert.equal(records.at(-1)!.out, features[s]);
        if (s > 0) assert.equal(records[0].x, features[s - 1]);
        records.forEach((r, j) => {
          assert.equal(r.block, params.layers[s][j]);
          if (j > 0) assert.equal(r.x, records[j - 1].out);
          assert.equal(r.identity === r.x, !r.block.downsample);
        });
      });
      if (tape.stem) assert.equal(tape.blocks[0][0].x, tape.stem.pooled);
      if (trainableLayers > 0) {
        assert.throws(
          () => resnetForward(params, images, { tape }),
          InvalidInputError,
          "a tape records once",
        );
      }
    }
  });
});

Deno.test("inference keeps only C2..C5 and P2..P6 alive; a recording forward only its tape more", () => {
  const live = () => gpu.pool.stats().liveBuffers;
  tidy(() => {
    let before = live();
    const features = resnetForward(params, images);
    assert.equal(live() - before, 4, "inference ResNet: C2..C5");
    before = live();
    fpnForward(params, features);
    assert.equal(live() - before, 5, "inference FPN: P2..P6");
    for (const trainableLayers of [0, 3, 5]) {
      before = live();
      const tape = createResnetTape({ trainableLayers });
      const recorded = resnetForward(params, images, { tape });
      // Frozen stages free their intermediates as in inference: only the outputs and the tape stay.
      const kept = new Set([...recorded, ...tapeTensors(tape)]);
      assert.equal(live() - before, kept.size, `recording ResNet, trainable ${trainableLayers}`);
      before = live();
      const fpnTape = createFpnTape();
      fpnForward(params, recorded, { tape: fpnTape });
      assert.equal(live() - before, 4 + 5, "recording FPN: the four inner maps and P2..P6");
      assert.throws(() => fpnForward(params, recorded, { tape: fpnTape }), InvalidInputError);
    }
  });
});

Deno.test("frozen stages get no gradient; trainable ones get the same gradients as when all train", async () => {
  // dLoss/dP2..P6 of a fixed linear loss, then backward at trainableBackboneLayers 3 and 5.
  const run = (trainableLayers: number) =>
    tidy(() => {
      const grads = zeroGrads();
      const tape = createResnetTape({ trainableLayers });
      const fpn = createFpnTape();
      const pyramid = fpnForward(params, resnetForward(params, images, { tape }), { tape: fpn });
      const pyramidGrads = pyramid.map((p, l) =>
        tensorFromArray(
          Float32Array.from({ length: p.size }, (_, i) => Math.cos(i * 0.3 + l) * 1e-3),
          p.shape,
        )
      );
      const featureGrads = fpnBackward(params, fpn, pyramidGrads, grads, {
        featureGradsFrom: tape.firstTrainableStage,
      });
      assert.deepEqual(
        featureGrads.map((g) => g !== null),
        [0, 1, 2, 3].map((s) => s >= tape.firstTrainableStage),
      );
      resnetBackward(params, tape, featureGrads, grads);
      return backboneConvs(params).map(([c]) => grads.get(c)!.weight!);
    });
  const convs = backboneConvs(params);
  const partial = await readTensors(run(3));
  const full = await readTensors(run(5));
  convs.forEach(([, stage], i) => {
    const zero = (partial[i] as Float32Array).every((v) => v === 0);
    assert.equal(zero, stage < 1, `conv ${i} of stage ${stage}: ${zero ? "no" : "a"} gradient`);
    if (stage >= 1) assert.deepEqual(partial[i], full[i], `conv ${i} of stage ${stage}`);
    else assert.ok((full[i] as Float32Array).some((v) => v !== 0), `conv ${i} trains at 5`);
  });
});

Deno.test("createResnetTape names a trainable layer count outside 0..5", () => {
  assert.throws(() => createResnetTape({ trainableLayers: 6 }), ConfigError);
  assert.throws(() => createResnetTape({ trainableLayers: 2.5 }), ConfigError);
});
