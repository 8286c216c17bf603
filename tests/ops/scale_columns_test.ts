import { emptyTensor, getGpu, scaleColumns, tensorFromArray } from "../../mod.ts";
import { assertClose, randomFloats } from "../_util.ts";

await getGpu();

Deno.test("scaleColumns matches float64, in place and into another tensor", async () => {
  const rows = 37, cols = 53;
  const x = randomFloats(rows * cols, 3);
  const s = randomFloats(cols, 4, 0.5, 2);
  const expected = Array.from(x, (v, i) => v * s[i % cols]);
  const tx = tensorFromArray(x, [rows, cols]);
  const ts = tensorFromArray(s, [cols]);
  assertClose(await scaleColumns(tx, ts, emptyTensor([rows, cols])).read(), expected, 1e-7, "out");
  scaleColumns(tx, ts, tx);
  assertClose(await tx.read(), expected, 1e-7, "in place");
});
