import assert from "node:assert/strict";
import { getGpu, readTensors, ShapeError, type Tensor, tensorFromArray } from "../../ops/mod.ts";
import { convTranspose2dBackward, packConvTranspose2dWeights } from "../../ops/conv_transpose2d.ts";
import { loadFixture } from "../_fixtures.ts";
import { assertClose, randomFloats } from "../_util.ts";
import { VARIANTS, withVariant } from "./_gemm_backward_util.ts";

await getGpu();

const fixture = loadFixture("ops/conv_transpose2d_backward.json");
const f32 = (name: string) => fixture.tensors[name].data as Float32Array;
const shape = (name: string) => fixture.tensors[name].shape;

interface Case {
  name: string;
  bias: boolean;
  relu: boolean;
}

for (const [c, v] of (fixture.meta.cases as Case[]).flatMap((c) => VARIANTS.map((v) => [c, v] as const))) {
  const [cin, cout] = shape(`${c.name}.weight`);
  Deno.test(
    `convTranspose2dBackward matches torch autograd (${v.tile} tile, ${v.split} weight grad): ${c.name} ` +
      `(${shape(`${c.name}.x`)} ${cin}→${cout}${c.relu ? ", relu" : ""})`,
    () =>
      withVariant(v, async () => {
        const bias = c.bias ? f32(`${c.name}.bias`) : undefined;
        const packed = packConvTranspose2dWeights(f32(`${c.name}.weight`), [cin, cout], bias);
        // the reference bias gradient packed = the summed gradient in all 4 copies
        const ref = packConvTranspose2dWeights(
          f32(`${c.name}.gw`),
          [cin, cout],
          c.bias ? f32(`${c.name}.gb`) : undefined,
        );
        const w0 = randomFloats(packed.weight.size, 7);
        const b0 = randomFloats(4 * cout, 8);
        const gw = tensorFromArray(w0, packed.weight.shape);
        const gb = c.bias ? tensorFromArray(b0, [4 * cout]) : undefined;
        const x = tensorFromArray(f32(`${c.name}.x`), shape(`${c.name}.x`));
        const out = tensorFromArray(f32(`${c.name}.out`), shape(`${c.name}.out`));
        const gout = tensorFromArray(f32(`${c.name}.gout`), shape(`${c.name}.gout`));
        const r = convTranspose2dBackward(x, packed, gout, { weight: gw, bias: gb }, {
          relu: c.relu,
          out: c.relu ? out : null,
        });
        assert.deepEqual(r.gradInput?.shape, shape(`${c.name}.x`));
        const [gx, gwOut, gPre, refW, gbOut, refB] = await readTensors(
          [r.gradInput!, gw, r.gradPreActivation, ref.weight, ...(gb ? [gb, ref.bias!] : [])],
        );
        assertClose(gx, f32(`${c.name}.gx`), 1e-4, `${c.name} grad input`);
        assertClose(gwOut.map((g, i) => g - w0[i]), refW, 1e-4, `${c.name} grad weight`);
        if (gb) assertClose(gbOut.map((g, i) => g - b0[i]), refB, 1e-4, `${c.name} grad bias (4 copies)`);
        const y = f32(`${c.name}.out`);
        const expectedPre = c.relu
          ? f32(`${c.name}.gout`).map((g, i) => (y[i] > 0 ? g : 0))
          : f32(`${c.name}.gout`);
        assertClose(gPre, expectedPre, 0, `${c.name} grad pre-activation`);
        const owned: (Tensor | null | undefined)[] = [x, out, gout, gw, gb, r.gradInput, packed.weight];
        owned.push(packed.bias, ref.weight, ref.bias, c.relu ? r.gradPreActivation : null);
        for (const t of owned) t?.dispose();
      }),
  );
}

Deno.test("convTranspose2dBackward accumulates: two calls add twice the gradients, copies stay equal", async () => {
  const c = (fixture.meta.cases as Case[]).find((c) => c.name === "mask_relu")!;
  const [cin, cout] = shape(`${c.name}.weight`);
  const packed = packConvTranspose2dWeights(f32(`${c.name}.weight`), [cin, cout], f32(`${c.name}.bias`));
  const gw = tensorFromArray(new Float32Array(packed.weight.size), packed.weight.shape);
  const gb = tensorFromArray(new Float32Array(4 * cout), [4 * cout]);
  const x = tensorFromArray(f32(`${c.name}.x`), shape(`${c.name}.x`));
  const out = tensorFromArray(f32(`${c.name}.out`), shape(`${c.name}.out`));
  const gout = tensorFromArray(f32(`${c.name}.gout`), shape(`${c.name}.gout`));
  for (let i = 0; i < 2; i++) {
    const r = convTranspose2dBackward(x, packed, gout, { weight: gw, bias: gb }, {
      relu: true,
      out,
      needInputGrad: false,
    });
    assert.equal(r.gradInput, null);
  }
  const ref = packConvTranspose2dWeights(f32(`${c.name}.gw`), [cin, cout], f32(`${c.name}.gb`));
  const [gwOut, gbOut, refW, refB] = await readTensors([gw, gb, ref.weight, ref.bias!]);
  assertClose(gwOut, refW.map((v) => 2 * v), 1e-4, "2× grad weight");
  assertClose(gbOut, refB.map((v) => 2 * v), 1e-4, "2× grad bias");
  for (let q = 1; q < 4; q++) assert.deepEqual(gbOut.slice(q * cout, (q + 1) * cout), gbOut.slice(0, cout));
});

Deno.test("convTranspose2dBackward bad calls throw ShapeError naming the op and the shapes", () => {
  const packed = packConvTranspose2dWeights(randomFloats(4 * 3 * 4, 1), [4, 3]);
  const x = tensorFromArray(randomFloats(2 * 3 * 5 * 4, 2), [2, 3, 5, 4]);
  const g = tensorFromArray(randomFloats(2 * 6 * 10 * 3, 3), [2, 6, 10, 3]);
  const throwsShape = (fn: () => unknown, re: RegExp) =>
    assert.throws(fn, (e: Error) => e instanceof ShapeError && re.test(e.message));
  throwsShape(
    () => convTranspose2dBackward(x.reshape([6, 5, 4]), packed, g, {}),
    /convTranspose2dBackward: x must have rank 4/,
  );
  throwsShape(
    () => convTranspose2dBackward(x, packed, g.reshape([2, 10, 6, 3]), {}),
    /convTranspose2dBackward: gradOut \[2,10,6,3\].*\[2,6,10,3\]/,
  );
  const gb = tensorFromArray(new Float32Array(12), [12]);
  throwsShape(
    () => convTranspose2dBackward(x, packed, g, { bias: gb }),
    /grads.bias \[12\].*no bias/,
  );
});
