import assert from "node:assert/strict";
import { LimitError } from "../../../mod.ts";
import { getGpu, tensorFromArray } from "../../../ops/mod.ts";
import { SCALE_MAX_IMAGES, scaleBoxes } from "../../../ops/detection/scale_boxes.ts";
import { assertClose, randomFloats } from "../../_util.ts";

await getGpu();

Deno.test("scaleBoxes multiplies x by each image's width ratio and y by its height ratio", async () => {
  const boxes = randomFloats(4 * 4, 7, 0, 100);
  const ratios: [number, number][] = [[0.5, 2], [1.5, 0.75]];
  const scaled = await scaleBoxes(tensorFromArray(boxes, [4, 4]), ratios).read();
  const expected = Array.from(boxes, (v, i) => v * ratios[Math.floor(i / 8)][i % 2 === 0 ? 1 : 0]);
  assertClose(scaled, expected, 1e-7, "scaleBoxes");
  const tooMany = Array.from({ length: SCALE_MAX_IMAGES + 1 }, () => [1, 1] as [number, number]);
  assert.throws(
    () => scaleBoxes(tensorFromArray(new Float32Array(4 * tooMany.length), [tooMany.length, 4]), tooMany),
    LimitError,
  );
});
