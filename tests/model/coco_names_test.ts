import assert from "node:assert/strict";
import { COCO_CLASS_NAMES } from "../../model/coco_names.ts";
import { fixtureJson } from "./_weights_fixtures.ts";

Deno.test("COCO_CLASS_NAMES equals torchvision's _COCO_CATEGORIES", () => {
  const { coco_categories } = fixtureJson<{ coco_categories: string[] }>("configs.json");
  assert.equal(COCO_CLASS_NAMES.length, 91);
  assert.deepEqual([...COCO_CLASS_NAMES], coco_categories);
  assert.ok(Object.isFrozen(COCO_CLASS_NAMES));
});
