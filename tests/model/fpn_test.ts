import assert from "node:assert/strict";
import { getGpu, imageTransform, readTensors } from "../../ops/mod.ts";
import { resolveConfig } from "../../model/config.ts";
import { transformOptions } from "../../model/stage_config.ts";
import { expectedStateDict } from "../../model/state_dict_names.ts";
import { paramTensors, uploadParams } from "../../model/params.ts";
import { resnetForward } from "../../model/resnet.ts";
import { fpnForward } from "../../model/fpn.ts";
import type { StateDict } from "../../model/state_dict.ts";
import { deterministicTensor } from "../_det_weights.ts";
import { loadFixture } from "../_fixtures.ts";
import { relativeError } from "../_util.ts";

await getGpu();

Deno.test("R50-FPN features match torchvision (deterministic full-size weights, 320×427 image) to 1e-3", async () => {
  const fixture = loadFixture("model/r50_fpn_features.json");
  const meta = fixture.meta as {
    stride: number;
    levels: Record<string, { shape: number[]; sum: number; abs_sum: number }>;
  };
  const config = resolveConfig({ preset: "maskrcnn_resnet50_fpn", minSize: 320 });
  const stateDict: StateDict = new Map(
    expectedStateDict(config).map((
      { name, shape },
    ) => [name, { shape: [...shape], data: deterministicTensor(name, shape) }]),
  );
  const params = uploadParams(config, stateDict);
  const image = fixture.tensors.image;
  const [height, width] = image.shape;
  const batch = imageTransform([{ data: image.data as Uint8Array, height, width }], {
    ...transformOptions(config),
    minSize: 320,
  });
  const pyramid = fpnForward(params, resnetForward(params, batch.images));
  const levels = await readTensors(pyramid);
  ["0", "1", "2", "3", "pool"].forEach((name, l) => {
    const [c, h, w] = meta.levels[name].shape;
    assert.deepEqual(pyramid[l].shape, [1, h, w, c], `level ${name} shape`);
    const ours = levels[l] as Float32Array;
    const expected = fixture.tensors[`fpn_${name}_sample`].data;
    const sampled = new Float32Array(expected.length);
    for (let k = 0; k < expected.length; k++) {
      const i = k * meta.stride; // NCHW flat index
      const ch = Math.floor(i / (h * w)), y = Math.floor(i / w) % h, x = i % w;
      sampled[k] = ours[(y * w + x) * c + ch];
    }
    const error = relativeError(sampled, expected);
    let sum = 0;
    for (const v of ours) sum += v;
    if (Deno.env.get("VERBOSE")) console.log(`level ${name}: relative error ${error.toExponential(3)}`);
    assert.ok(error <= 1e-3, `level ${name}: relative error ${error.toExponential(3)}`);
    const sumError = Math.abs(sum - meta.levels[name].sum) / meta.levels[name].abs_sum;
    assert.ok(sumError <= 1e-4, `level ${name}: sum ${sum} vs ${meta.levels[name].sum}`);
  });
  for (const t of [...pyramid, batch.images, ...paramTensors(params)]) t.dispose();
});
