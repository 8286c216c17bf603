import assert from "node:assert/strict";
import { resolveConfig } from "../../model/config.ts";
import type { PresetName } from "../../model/config.ts";
import {
  canonicalName,
  expectedStateDict,
  isIgnoredName,
  isPredictorName,
} from "../../model/state_dict_names.ts";
import { fixtureJson } from "./_weights_fixtures.ts";

type KeyList = [string, number[]][];
/** Key + shape lists of torchvision 0.14 models (tools/reference/make_weights_fixtures.py). */
const names = fixtureJson<Record<string, unknown>>("names.json");

/** torchvision's list minus BatchNorm2d's num_batches_tracked (FrozenBatchNorm2d has none). */
function torchKeys(model: string): KeyList {
  return (names[model] as KeyList).filter(([name]) => !isIgnoredName(name));
}

const cases: [PresetName, string][] = [
  ["maskrcnn_resnet50_fpn", "maskrcnn_resnet50_fpn"],
  ["fasterrcnn_resnet50_fpn", "fasterrcnn_resnet50_fpn"],
  ["maskrcnn_resnet101_fpn", "maskrcnn_resnet101_fpn"],
  ["small", "small"],
];
for (const [preset, model] of cases) {
  Deno.test(`expectedStateDict(${preset}) equals torchvision's ${model} keys, shapes and order`, () => {
    const ours = expectedStateDict(resolveConfig({ preset })).map((t) => [t.name, t.shape]);
    const theirs = torchKeys(model);
    assert.ok(theirs.length > 100, "fixture list is populated");
    assert.deepEqual(ours, theirs);
  });
}

Deno.test("the full-size torchvision lists really carry num_batches_tracked (so the filter matters)", () => {
  const all = names.maskrcnn_resnet50_fpn as KeyList;
  // ResNet-50 has 53 BatchNorm layers: the stem, 3 per Bottleneck (16 blocks) and 4 downsample ones
  assert.equal(all.length - torchKeys("maskrcnn_resnet50_fpn").length, 53);
  assert.equal(
    (names.small as KeyList).filter(([n]) => isIgnoredName(n)).length,
    0,
    "FrozenBatchNorm2d model has none",
  );
});

Deno.test("canonicalName maps every old-generation R50 name to the torchvision 0.14 name", () => {
  const v1 = (names.maskrcnn_resnet50_fpn_v1_names as KeyList).filter(([n]) => !isIgnoredName(n));
  const v2 = torchKeys("maskrcnn_resnet50_fpn");
  assert.notDeepEqual(v1.map(([n]) => n), v2.map(([n]) => n), "the generations differ");
  assert.deepEqual(v1.map(([n, s]) => [canonicalName(n), s]), v2);
});

Deno.test("canonicalName agrees with torchvision's load hooks on the small subset's old names", () => {
  // the script checked these against torchvision's _load_from_state_dict (no unexpected keys on load)
  const mapping = names.small_subset_v1_to_v2 as Record<string, string>;
  let renamed = 0;
  for (const [old, current] of Object.entries(mapping)) {
    assert.equal(canonicalName(old), current, old);
    assert.equal(canonicalName(current), current, `${current} is a fixed point`);
    if (old !== current) renamed++;
  }
  assert.ok(renamed >= 8, `old names exercised (${renamed})`);
});

Deno.test("canonicalName examples of each renaming hook and the DataParallel prefix", () => {
  assert.equal(canonicalName("backbone.fpn.inner_blocks.3.weight"), "backbone.fpn.inner_blocks.3.0.weight");
  assert.equal(canonicalName("backbone.fpn.layer_blocks.0.bias"), "backbone.fpn.layer_blocks.0.0.bias");
  assert.equal(canonicalName("rpn.head.conv.weight"), "rpn.head.conv.0.0.weight");
  assert.equal(canonicalName("roi_heads.mask_head.mask_fcn4.bias"), "roi_heads.mask_head.3.0.bias");
  assert.equal(canonicalName("module.rpn.head.conv.bias"), "rpn.head.conv.0.0.bias");
  assert.equal(canonicalName("rpn.head.cls_logits.weight"), "rpn.head.cls_logits.weight");
});

Deno.test("predictor names: box predictor and mask logits only", () => {
  const all = expectedStateDict(resolveConfig()).map((t) => t.name).filter(isPredictorName);
  assert.deepEqual(all, [
    "roi_heads.box_predictor.cls_score.weight",
    "roi_heads.box_predictor.cls_score.bias",
    "roi_heads.box_predictor.bbox_pred.weight",
    "roi_heads.box_predictor.bbox_pred.bias",
    "roi_heads.mask_predictor.mask_fcn_logits.weight",
    "roi_heads.mask_predictor.mask_fcn_logits.bias",
  ]);
});
