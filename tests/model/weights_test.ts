import assert from "node:assert/strict";
import { resolveConfig } from "../../model/config.ts";
import { expectedStateDict } from "../../model/state_dict_names.ts";
import { checkStateDict } from "../../model/weights.ts";
import { loadStateDict } from "../../data/weights/load_state_dict.ts";
import type { StateDict } from "../../model/state_dict.ts";
import { StateDictMismatchError } from "../../model/weights_errors.ts";
import { fixtureJson, fixtureUrl } from "./_weights_fixtures.ts";
import { randomFloats } from "../_util.ts";

const names = fixtureJson<{ small: [string, number[]][]; small_subset_max_numel: number }>("names.json");
const small = resolveConfig({ preset: "small" });

/** The torch-written subset, completed with seeded random tensors for the large ones it leaves out. */
async function completeSmall(): Promise<StateDict> {
  const sd = await loadStateDict(fixtureUrl("small_subset.pth"));
  for (const [i, { name, shape }] of expectedStateDict(small).entries()) {
    if (!sd.has(name)) sd.set(name, { shape, data: randomFloats(shape.reduce((p, d) => p * d, 1), i) });
  }
  return sd;
}

function mismatch(fn: () => void): StateDictMismatchError {
  try {
    fn();
  } catch (e) {
    if (e instanceof StateDictMismatchError) return e;
    throw e;
  }
  assert.fail("no StateDictMismatchError");
}

Deno.test("checkStateDict lists exactly the tensors the subset fixture leaves out, in one error", async () => {
  const sd = await loadStateDict(fixtureUrl("small_subset.pth"));
  const e = mismatch(() => checkStateDict(small, sd, { file: "small_subset.pth" }));
  const left = names.small.filter(([, s]) => s.reduce((p, d) => p * d, 1) > names.small_subset_max_numel);
  assert.ok(left.length > 5);
  assert.deepEqual(e.missing, left.map(([n]) => n));
  assert.deepEqual([e.unexpected, e.wrongShape], [[], []]);
  for (const [n] of left) assert.ok(e.message.includes(n), n);
  assert.ok(e.message.startsWith("small_subset.pth: "));
});

Deno.test("a complete small state_dict passes; old names pass too", async () => {
  const sd = await completeSmall();
  checkStateDict(small, sd);
  const old = await loadStateDict(fixtureUrl("small_subset_v1names.pth"));
  for (const [name, t] of sd) if (!old.has(name)) old.set(name, t);
  checkStateDict(small, old);
});

Deno.test("missing, unexpected and wrongly shaped tensors are all named in ONE error", async () => {
  const sd = await completeSmall();
  sd.delete("rpn.head.conv.0.0.bias");
  sd.delete("backbone.body.layer3.0.bn2.running_var");
  sd.set("roi_heads.keypoint_head.0.weight", { shape: [1], data: new Float32Array([1]) });
  sd.set("backbone.fpn.layer_blocks.1.0.weight", { shape: [64, 64, 1, 1], data: randomFloats(4096, 3) });
  const e = mismatch(() => checkStateDict(small, sd));
  assert.deepEqual(e.missing, ["backbone.body.layer3.0.bn2.running_var", "rpn.head.conv.0.0.bias"]);
  assert.deepEqual(e.unexpected, ["roi_heads.keypoint_head.0.weight"]);
  assert.deepEqual(e.wrongShape, [
    { name: "backbone.fpn.layer_blocks.1.0.weight", expected: [64, 64, 3, 3], actual: [64, 64, 1, 1] },
  ]);
  assert.match(
    e.message,
    /backbone\.fpn\.layer_blocks\.1\.0\.weight is \[64,64,1,1\], expected \[64,64,3,3\]/,
  );
});

Deno.test("skipPredictor accepts another class count and absent predictors; nothing else is skipped", async () => {
  const sd = await completeSmall();
  const seven = resolveConfig({ preset: "small", numClasses: 7 });
  const e = mismatch(() => checkStateDict(seven, sd));
  assert.equal(e.wrongShape.length, 6); // cls_score, bbox_pred, mask_fcn_logits: weight + bias each
  checkStateDict(seven, sd, { skipPredictor: true });
  sd.delete("roi_heads.box_predictor.cls_score.weight");
  sd.delete("roi_heads.mask_predictor.mask_fcn_logits.bias");
  checkStateDict(seven, sd, { skipPredictor: true });
  sd.delete("roi_heads.mask_predictor.conv5_mask.bias");
  assert.deepEqual(mismatch(() => checkStateDict(seven, sd, { skipPredictor: true })).missing, [
    "roi_heads.mask_predictor.conv5_mask.bias",
  ]);
});

Deno.test("Faster R-CNN needs no mask weights and rejects them", async () => {
  const sd = await completeSmall();
  const faster = resolveConfig({ preset: "small", maskHead: false });
  const e = mismatch(() => checkStateDict(faster, sd));
  assert.deepEqual(e.missing, []);
  assert.ok(
    e.unexpected.length === 8 && e.unexpected.every((n) => /^roi_heads\.mask_(head|predictor)\./.test(n)),
  );
  for (const n of e.unexpected) sd.delete(n);
  checkStateDict(faster, sd);
});
