import assert from "node:assert/strict";
import { buildModel, loadWeights, saveWeights } from "../../mod.ts";
import { detectImages } from "../../model/detect.ts";
import type { Detection } from "../../model/detect.ts";
import { readSafetensors, writeSafetensors } from "../../data/weights/safetensors.ts";
import { loadFixture } from "../_fixtures.ts";
import { matchDetections } from "./_match.ts";

const WEIGHTS = new URL("../fixtures/model/small_trained.pth", import.meta.url);
const fixture = loadFixture("model/small_detect.json");
const meta = fixture.meta as { counts: number[] };
const images = fixture.tensors.images;
const [count, size] = images.shape;
const plane = size * size;
const rawImages = Array.from({ length: count }, (_, i) => ({
  data: (images.data as Uint8Array).subarray(i * plane * 3, (i + 1) * plane * 3),
  width: size,
  height: size,
}));

function unpackBits(bits: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(n * plane);
  const bytesPerMask = Math.ceil(plane / 8);
  for (let m = 0; m < n; m++) {
    for (let p = 0; p < plane; p++) out[m * plane + p] = (bits[m * bytesPerMask + (p >> 3)] >> (p & 7)) & 1;
  }
  return out;
}

function assertMatchesTorchvision(results: Detection[], what: string): void {
  const log: string[] = [];
  results.forEach((ours, i) => {
    const n = meta.counts[i];
    const reference = {
      count: n,
      boxes: fixture.tensors[`boxes_${i}`].data,
      scores: fixture.tensors[`scores_${i}`].data,
      labels: fixture.tensors[`labels_${i}`].data,
      masks: unpackBits(fixture.tensors[`mask_bits_${i}`].data as Uint8Array, n),
    };
    const m = matchDetections(reference, ours, {
      minBoxIou: 0.99,
      maxScoreDiff: 1e-3,
      minMaskIou: 0.98,
      plane,
    });
    log.push(
      `image ${i}: ${n} vs ${ours.count}, worst box IoU ${m.worstBoxIou.toFixed(5)}, score diff ` +
        `${m.worstScoreDiff.toExponential(2)}, mask IoU ${m.worstMaskIou.toFixed(4)}`,
    );
    assert.deepEqual(m.problems, [], `${what}, image ${i}: ${m.problems.slice(0, 5).join("; ")}`);
  });
  if (Deno.env.get("VERBOSE")) console.log(log.join("\n"));
}

Deno.test("small Mask R-CNN: detect matches torchvision on 8 images (weights from .pth)", async () => {
  const model = await buildModel({ preset: "small" });
  await loadWeights(model, WEIGHTS.pathname);
  const results = await detectImages(model, rawImages);
  assert.ok(results.reduce((s, r) => s + r.count, 0) > 8, "the fixture model should detect things");
  assertMatchesTorchvision(results, ".pth");

  // The same weights through safetensors, with torchvision's current names and with the old ones.
  const bytes = saveWeights(model);
  const fromSafetensors = await buildModel({ preset: "small" });
  await loadWeights(fromSafetensors, bytes);
  assertMatchesTorchvision(await detectImages(fromSafetensors, rawImages), "safetensors");

  const oldNames = new Map(
    [...readSafetensors(bytes).tensors].map(([name, t]) => [
      name.replace(/fpn\.(inner|layer)_blocks\.(\d)\.0\./, "fpn.$1_blocks.$2.")
        .replace("rpn.head.conv.0.0.", "rpn.head.conv.")
        .replace(/mask_head\.(\d)\.0\./, (_, i) => `mask_head.mask_fcn${Number(i) + 1}.`),
      t,
    ]),
  );
  assert.ok(oldNames.has("rpn.head.conv.weight") && oldNames.has("roi_heads.mask_head.mask_fcn1.weight"));
  const fromOld = await buildModel({ preset: "small" });
  await loadWeights(fromOld, writeSafetensors(oldNames));
  assertMatchesTorchvision(await detectImages(fromOld, rawImages.slice(0, 3)), "old names");
});
