import assert from "node:assert/strict";
import { ConfigError, MASKRCNN_RESNET50_FPN, resolveConfig, validateConfig } from "../../model/config.ts";
import type { MaskRcnnConfig, PresetName } from "../../model/config.ts";
import { fixtureJson } from "./_weights_fixtures.ts";

/** Fields read back from models built by torchvision 0.14 (tools/reference/make_weights_fixtures.py). */
const torchConfigs = fixtureJson<Record<string, Record<string, unknown>>>("configs.json");

function assertMatchesTorch(preset: PresetName, torchName: string): void {
  const ours = resolveConfig({ preset }) as unknown as Record<string, unknown>;
  const theirs = torchConfigs[torchName];
  for (const [field, value] of Object.entries(theirs)) {
    // null: not represented by the built model (small: trainable layers; Faster R-CNN: mask fields)
    if (value === null) continue;
    assert.deepEqual(ours[field], value, `${preset}.${field}`);
  }
  assert.ok(Object.keys(theirs).length >= Object.keys(ours).length, "every field is compared");
}

Deno.test("maskrcnn_resnet50_fpn defaults equal torchvision 0.14's built model", () => {
  assertMatchesTorch("maskrcnn_resnet50_fpn", "maskrcnn_resnet50_fpn");
});

Deno.test("fasterrcnn_resnet50_fpn preset equals torchvision's, without a mask head", () => {
  assertMatchesTorch("fasterrcnn_resnet50_fpn", "fasterrcnn_resnet50_fpn");
  assert.equal(resolveConfig({ preset: "fasterrcnn_resnet50_fpn" }).maskHead, false);
});

Deno.test("small preset equals the torch model built by the fixture script", () => {
  assertMatchesTorch("small", "small");
});

Deno.test("resnet101 preset only changes the block counts", () => {
  const r101 = resolveConfig({ preset: "maskrcnn_resnet101_fpn" });
  assert.deepEqual(r101.backbone.blocks, [3, 4, 23, 3]);
  assert.deepEqual({ ...r101, backbone: null }, { ...resolveConfig(), backbone: null });
});

Deno.test("overrides merge (backbone partially) and do not leak into later calls", () => {
  const c = resolveConfig({ preset: "small", numClasses: 7, backbone: { widthPerGroup: 32 } });
  assert.equal(c.numClasses, 7);
  assert.deepEqual(c.backbone, { blocks: [1, 1, 1, 1], widthPerGroup: 32 });
  c.anchorSizes[0][0] = 1;
  assert.equal(resolveConfig({ preset: "small" }).anchorSizes[0][0], 32);
  assert.equal(MASKRCNN_RESNET50_FPN.anchorSizes[0][0], 32);
});

const bad: [string, Record<string, unknown>, string][] = [
  ["numClasses", { numClasses: 0 }, "numClasses = 0"],
  ["numClasses", { numClasses: 2.5 }, "numClasses = 2.5"],
  ["rpnNmsThresh", { rpnNmsThresh: 1.5 }, "rpnNmsThresh = 1.5"],
  ["minSize", { minSize: 1400 }, "minSize = 1400"],
  ["imageStd", { imageStd: [0.2, 0, 0.2] }, "imageStd = [0.2,0,0.2]"],
  ["imageMean", { imageMean: [0.5, 0.5] }, "imageMean = [0.5,0.5]"],
  ["aspectRatios", { aspectRatios: [[1]] }, "aspectRatios = [[1]]"],
  ["aspectRatios", { aspectRatios: [[1], [1], [1], [1], [1, 2]] }, "same anchor count"],
  ["rpnBgIouThresh", { rpnBgIouThresh: 0.8 }, "rpnBgIouThresh = 0.8"],
  ["backbone.blocks", { backbone: { blocks: [1, 1, 1] } }, "backbone.blocks = [1,1,1]"],
  ["backbone.widthPerGroup", { backbone: { widthPerGroup: -4 } }, "backbone.widthPerGroup = -4"],
  ["backbone.depth", { backbone: { depth: 50 } }, "backbone.depth = 50"],
  ["maskHeadLayers", { maskHeadLayers: [] }, "maskHeadLayers = []"],
  ["maskHead", { maskHead: "yes" }, 'maskHead = "yes"'],
  ["trainableBackboneLayers", { trainableBackboneLayers: 6 }, "trainableBackboneLayers = 6"],
  ["numClass", { numClass: 3 }, "numClass = 3"],
  ["preset", { preset: "yolo" }, 'preset = "yolo"'],
];
for (const [field, overrides, text] of bad) {
  Deno.test(`resolveConfig rejects ${JSON.stringify(overrides)} naming ${field}`, () => {
    assert.throws(
      () => resolveConfig(overrides as never),
      (e: unknown) => e instanceof ConfigError && e.field === field && e.message.includes(text),
    );
  });
}

Deno.test("validateConfig reports a missing field", () => {
  const c = structuredClone(MASKRCNN_RESNET50_FPN) as Partial<MaskRcnnConfig>;
  delete c.boxNmsThresh;
  assert.throws(() => validateConfig(c as MaskRcnnConfig), /boxNmsThresh/);
});
