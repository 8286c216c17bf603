import assert from "node:assert/strict";
import { getGpu, readTensors, ShapeError, type Tensor, tensorFromArray } from "../../ops/mod.ts";
import { linearBackward, packLinearWeights } from "../../ops/linear.ts";
import { loadFixture } from "../_fixtures.ts";
import { assertClose, randomFloats } from "../_util.ts";
import { VARIANTS, withVariant } from "./_gemm_backward_util.ts";

await getGpu();

const fixture = loadFixture("ops/linear_backward.json");
const f32 = (name: string) => fixture.tensors[name].data as Float32Array;
const shape = (name: string) => fixture.tensors[name].shape;

interface Case {
  name: string;
  bias: boolean;
  relu: boolean;
  nchw: [number, number, number] | null;
}

for (const [c, v] of (fixture.meta.cases as Case[]).flatMap((c) => VARIANTS.map((v) => [c, v] as const))) {
  const [outF, inF] = shape(`${c.name}.weight`);
  const rows = shape(`${c.name}.x`)[0];
  Deno.test(
    `linearBackward matches torch autograd (${v.tile} tile, ${v.split} weight grad): ${c.name} ` +
      `(${rows}×${inF} → ${outF}${c.relu ? ", relu" : ""}${c.nchw ? ", NCHW-packed input" : ""})`,
    () =>
      withVariant(v, async () => {
        const opts = c.nchw ? { nchwInput: c.nchw } : {};
        const bias = c.bias ? f32(`${c.name}.bias`) : undefined;
        const packed = packLinearWeights(f32(`${c.name}.weight`), [outF, inF], bias, opts);
        const refBias = c.bias ? f32(`${c.name}.gb`) : undefined;
        const ref = packLinearWeights(f32(`${c.name}.gw`), [outF, inF], refBias, opts);
        const w0 = randomFloats(packed.weight.size, 7);
        const b0 = randomFloats(packed.weight.shape[1], 8);
        const gw = tensorFromArray(w0, packed.weight.shape);
        const gb = c.bias ? tensorFromArray(b0, [packed.weight.shape[1]]) : undefined;
        const x = tensorFromArray(f32(`${c.name}.x`), shape(`${c.name}.x`));
        const out = tensorFromArray(f32(`${c.name}.out`), shape(`${c.name}.out`));
        const gout = tensorFromArray(f32(`${c.name}.gout`), shape(`${c.name}.gout`));
        const r = linearBackward(x, packed, gout, { weight: gw, bias: gb }, {
          relu: c.relu,
          out: c.relu ? out : null,
        });
        assert.deepEqual(r.gradInput?.shape, [rows, inF]);
        const [gx, gwOut, gPre, refW, gbOut, refB] = await readTensors(
          [r.gradInput!, gw, r.gradPreActivation, ref.weight, ...(gb ? [gb, ref.bias!] : [])],
        );
        assertClose(gx, f32(`${c.name}.gx`), 1e-4, `${c.name} grad input`);
        assertClose(gwOut.map((g, i) => g - w0[i]), refW, 1e-4, `${c.name} grad weight`);
        if (gb) assertClose(gbOut.map((g, i) => g - b0[i]), refB, 1e-4, `${c.name} grad bias`);
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

Deno.test("linearBackward accumulates: two calls add twice the weight and bias gradients", async () => {
  const c = (fixture.meta.cases as Case[]).find((c) => c.name === "fc7_vec_relu")!;
  const [outF, inF] = shape(`${c.name}.weight`);
  const packed = packLinearWeights(f32(`${c.name}.weight`), [outF, inF], f32(`${c.name}.bias`));
  const gw = tensorFromArray(new Float32Array(packed.weight.size), packed.weight.shape);
  const gb = tensorFromArray(new Float32Array(packed.bias!.size), packed.bias!.shape);
  const x = tensorFromArray(f32(`${c.name}.x`), shape(`${c.name}.x`));
  const out = tensorFromArray(f32(`${c.name}.out`), shape(`${c.name}.out`));
  const gout = tensorFromArray(f32(`${c.name}.gout`), shape(`${c.name}.gout`));
  for (let i = 0; i < 2; i++) {
    assert.equal(
      linearBackward(x, packed, gout, { weight: gw, bias: gb }, { relu: true, out, needInputGrad: false })
        .gradInput,
      null,
    );
  }
  const ref = packLinearWeights(f32(`${c.name}.gw`), [outF, inF], f32(`${c.name}.gb`));
  const [gwOut, gbOut, refW, refB] = await readTensors([gw, gb, ref.weight, ref.bias!]);
  assertClose(gwOut, refW.map((v) => 2 * v), 1e-4, "2× grad weight");
  assertClose(gbOut, refB.map((v) => 2 * v), 1e-4, "2× grad bias");
});

Deno.test("linearBackward bad calls throw ShapeError naming the op and the shapes", () => {
  const packed = packLinearWeights(randomFloats(6 * 5, 1), [6, 5]);
  const x = tensorFromArray(randomFloats(3 * 5, 2), [3, 5]);
  const g = tensorFromArray(randomFloats(3 * 6, 3), [3, 6]);
  const throwsShape = (fn: () => unknown, re: RegExp) =>
    assert.throws(fn, (e: Error) => e instanceof ShapeError && re.test(e.message));
  throwsShape(
    () => linearBackward(tensorFromArray(randomFloats(8, 2), [2, 4]), packed, g, {}),
    /linearBackward: x \[2,4\] f32 has 4 features.*\[out 6, in 5\]/,
  );
  throwsShape(
    () => linearBackward(x, packed, g.reshape([6, 3]), {}),
    /gradOut \[6,3\].*\[3,6\]/,
  );
  throwsShape(
    () => linearBackward(x, packed, g, {}, { relu: true }),
    /linearBackward: relu needs the forward output/,
  );
  const gwWrong = tensorFromArray(new Float32Array(30), [5, 6]);
  throwsShape(
    () => linearBackward(x, packed, g, { weight: gwWrong }),
    /grads.weight \[5,6\].*\[5,8\]/,
  );
});
