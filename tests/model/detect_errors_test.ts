import assert from "node:assert/strict";
import {
  buildModel,
  detect,
  loadWeights,
  ShapeError,
  StateDictMismatchError,
  WeightsFormatError,
} from "../../mod.ts";
import { encodePng } from "../../data/image_codec.ts";
import { rng } from "../_util.ts";

const SUBSET = new URL("../fixtures/model/small_subset.pth", import.meta.url).pathname;

Deno.test("detect refuses bad images with errors naming the image and the problem", async () => {
  const model = await buildModel({ preset: "small" });
  // Checked before anything touches the GPU, so no weights are needed for these.
  model.params = {} as never;
  await assert.rejects(
    () => detect(model, { data: new Uint8Array(0), width: 0, height: 10 }),
    (e: Error) => e instanceof ShapeError && /image 0 is 0×10/.test(e.message),
  );
  await assert.rejects(
    () => detect(model, { data: new Uint8Array(10 * 10 * 2), width: 10, height: 10 }),
    (e: Error) =>
      e instanceof ShapeError && /200 bytes; a 10×10 image needs 300 \(RGB\) or 400 \(RGBA\)/.test(e.message),
  );
  const next = rng(1);
  const png = encodePng(Uint8Array.from({ length: 16 * 16 * 3 }, () => Math.floor(256 * next())), 16, 16, 3);
  await assert.rejects(() => detect(model, png.subarray(0, 40)), /image 0/);
  await assert.rejects(() => detect(model, new TextEncoder().encode("not an image at all")), /image 0/);
});

Deno.test("detect without weights says to load them", async () => {
  const model = await buildModel({ preset: "small" });
  await assert.rejects(
    () => detect(model, { data: new Uint8Array(8 * 8 * 3).fill(9), width: 8, height: 8 }),
    /no weights; call loadWeights/,
  );
});

Deno.test("loadWeights refuses a non-checkpoint and another architecture's checkpoint", async () => {
  const model = await buildModel({ preset: "small" });
  await assert.rejects(
    () => loadWeights(model, new TextEncoder().encode("hello, not weights")),
    WeightsFormatError,
  );
  const r50 = await buildModel({ preset: "maskrcnn_resnet50_fpn" });
  await assert.rejects(
    () => loadWeights(r50, SUBSET),
    (e: Error) =>
      e instanceof StateDictMismatchError && /small_subset\.pth/.test(e.message) &&
      /missing/i.test(e.message),
  );
  assert.equal(r50.params, null, "a failed load leaves the model without half-loaded weights");
});
