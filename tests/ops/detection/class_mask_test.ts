import { getGpu, tensorFromArray } from "../../../ops/mod.ts";
import { selectClassMask } from "../../../ops/detection/class_mask.ts";
import { assertClose, randomFloats } from "../../_util.ts";

await getGpu();

Deno.test("selectClassMask takes the sigmoid of each RoI's label channel", async () => {
  const [r, m, c] = [3, 5, 4];
  const logits = randomFloats(r * m * m * c, 6, -5, 5);
  const labels = new Int32Array([2, 0, -1]);
  const got = await selectClassMask(tensorFromArray(logits, [r, m, m, c]), tensorFromArray(labels, [r]))
    .read();
  const expected = Array.from({ length: r * m * m }, (_, i) => {
    const label = labels[Math.floor(i / (m * m))];
    return label < 0 ? 0 : 1 / (1 + Math.exp(-logits[i * c + label]));
  });
  assertClose(got, expected, 1e-6, "selectClassMask");
});
