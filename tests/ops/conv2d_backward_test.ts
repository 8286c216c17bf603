import assert from "node:assert/strict";
import { getGpu, readTensors, ShapeError, type Tensor, tensorFromArray } from "../../ops/mod.ts";
import { FIT_ROWS, packConv2dWeights, SUBGROUP_GEMM, WEIGHT_TEXTURE } from "../../ops/conv2d.ts";
import { PATHS } from "./_gemm_paths.ts";
import { forEachConvTerm } from "./_conv_terms.ts";
import { conv2dBackward } from "../../ops/conv2d_backward.ts";
import { transposePackedWeight } from "../../ops/gemm_backward.ts";
import { loadFixture } from "../_fixtures.ts";
import { assertClose, randomFloats } from "../_util.ts";
import { VARIANTS, withVariant } from "./_gemm_backward_util.ts";

await getGpu();

const fixture = loadFixture("ops/conv2d_backward.json");
const f32 = (name: string) => fixture.tensors[name].data as Float32Array;
const shape = (name: string) => fixture.tensors[name].shape;

interface Case {
  name: string;
  stride: number;
  padding: number;
  bias: boolean;
  residual: boolean;
  relu: boolean;
}

/** gradOut · (out > 0) (or gradOut), computed on the CPU from the fixture. */
function expectedGradPre(name: string, relu: boolean): Float32Array {
  const g = f32(`${name}.gout`);
  const y = f32(`${name}.out`);
  return relu ? g.map((v, i) => (y[i] > 0 ? v : 0)) : g;
}

for (const [c, v] of (fixture.meta.cases as Case[]).flatMap((c) => VARIANTS.map((v) => [c, v] as const))) {
  const [cout, cin, kh, kw] = shape(`${c.name}.weight`);
  Deno.test(
    `conv2dBackward matches torch autograd (${v.tile} tile, ${v.split} weight grad): ${c.name} ` +
      `(${kh}×${kw} s${c.stride} p${c.padding} ${cin}→${cout}${c.residual ? " residual" : ""}${
        c.relu ? " relu" : ""
      })`,
    () =>
      withVariant(v, async () => {
        const packed = packConv2dWeights(
          f32(`${c.name}.weight`),
          [cout, cin, kh, kw],
          c.bias ? f32(`${c.name}.bias`) : undefined,
        );
        // reference gradients in the packed layout, plus non-zero starting values: accumulation must add
        const ref = packConv2dWeights(
          f32(`${c.name}.gw`),
          [cout, cin, kh, kw],
          c.bias ? f32(`${c.name}.gb`) : undefined,
        );
        const w0 = randomFloats(packed.weight.size, 7);
        const b0 = randomFloats(packed.weight.shape[1], 8);
        const gw = tensorFromArray(w0, packed.weight.shape);
        const gb = c.bias ? tensorFromArray(b0, [packed.weight.shape[1]]) : undefined;
        const x = tensorFromArray(f32(`${c.name}.x`), shape(`${c.name}.x`));
        const out = tensorFromArray(f32(`${c.name}.out`), shape(`${c.name}.out`));
        const gout = tensorFromArray(f32(`${c.name}.gout`), shape(`${c.name}.gout`));
        const opts = { stride: c.stride, padding: c.padding, relu: c.relu, hasResidual: c.residual };
        const r = conv2dBackward(x, packed, gout, { weight: gw, bias: gb }, {
          ...opts,
          out: c.relu ? out : null,
        });
        assert.deepEqual(r.gradInput?.shape, shape(`${c.name}.x`));
        const [gx, gwOut, gPre, refW, gbOut, refB] = await readTensors(
          [r.gradInput!, gw, r.gradPreActivation, ref.weight, ...(gb ? [gb, ref.bias!] : [])],
        );
        assertClose(gx, f32(`${c.name}.gx`), 1e-4, `${c.name} grad input`);
        assertClose(gwOut, refW.map((g, i) => g + w0[i]), 1e-4, `${c.name} grad weight (accumulated)`);
        assertClose(gwOut.map((g, i) => g - w0[i]), refW, 1e-4, `${c.name} grad weight`);
        if (gb) assertClose(gbOut.map((g, i) => g - b0[i]), refB, 1e-4, `${c.name} grad bias`);
        assertClose(gPre, expectedGradPre(c.name, c.relu), 0, `${c.name} grad pre-activation`);
        if (c.residual) assertClose(gPre, f32(`${c.name}.gres`), 1e-6, `${c.name} grad residual`);
        const owned: (Tensor | null | undefined)[] = [x, out, gout, gw, gb, r.gradInput, packed.weight];
        owned.push(packed.bias, ref.weight, ref.bias, c.relu ? r.gradPreActivation : null);
        for (const t of owned) t?.dispose();
      }),
  );
}

// Cin a multiple of 64: the software adapter reads the transposed weights of the input gradient from a
// texture (ops/conv2d.ts WEIGHT_TEXTURE); Cout 40: the subgroup broadcast of g (SUBGROUP_GEMM) runs one
// block of 8 vec4 steps and a tail; 2×6×7 input rows (24 per stride-2 phase) clamp over a quarter of a 64-row
// tile, so FIT_ROWS shortens it. Every path must match a float64 reference and the others bit for bit.
for (const stride of [1, 2]) {
  Deno.test(`conv2dBackward input gradient 3×3 s${stride} 64→40: texture and buffer paths, subgroup A or not, match float64`, async () => {
    const [n, h, w, cin, cout, k, pad] = [2, 6, 7, 64, 40, 3, 1];
    const ho = Math.floor((h + 2 * pad - k) / stride) + 1;
    const wo = Math.floor((w + 2 * pad - k) / stride) + 1;
    const ws = randomFloats(cout * cin * k * k, 21);
    const gs = randomFloats(n * ho * wo * cout, 22);
    const expected = new Float64Array(n * h * w * cin);
    forEachConvTerm({ n, h, w, cin, cout, k, stride, pad }, (xi, wi, gi) => {
      expected[xi] += gs[gi] * ws[wi];
    });
    const packed = packConv2dWeights(ws, [cout, cin, k, k]);
    const x = tensorFromArray(randomFloats(n * h * w * cin, 23), [n, h, w, cin]);
    const gout = tensorFromArray(gs, [n, ho, wo, cout]);
    const saved = { ...WEIGHT_TEXTURE };
    const savedSubgroup = { ...SUBGROUP_GEMM };
    const results: Float32Array[] = [];
    try {
      for (const [texture, subgroup, fit] of PATHS) {
        WEIGHT_TEXTURE.software = WEIGHT_TEXTURE.hardware = texture;
        SUBGROUP_GEMM.software = SUBGROUP_GEMM.hardware = subgroup;
        SUBGROUP_GEMM.minK = 0;
        FIT_ROWS.enabled = fit;
        const r = conv2dBackward(x, packed, gout, {}, { stride, padding: pad });
        results.push((await r.gradInput!.read()) as Float32Array);
        assertClose(
          results.at(-1)!,
          expected,
          1e-4,
          `texture ${texture} subgroup ${subgroup} fit rows ${fit}`,
        );
        r.gradInput!.dispose();
      }
    } finally {
      Object.assign(WEIGHT_TEXTURE, saved);
      Object.assign(SUBGROUP_GEMM, savedSubgroup);
      FIT_ROWS.enabled = true;
    }
    for (const r of results.slice(1)) assert.deepEqual(r, results[0]);
    for (const t of [x, gout, packed.weight]) t.dispose();
  });
}

Deno.test("conv2dBackward accumulates: two calls add twice the gradient; needInputGrad false skips it", async () => {
  const c = (fixture.meta.cases as Case[]).find((c) => c.name === "k3s1p1_vec_relu")!;
  const [cout, cin, kh, kw] = shape(`${c.name}.weight`);
  const packed = packConv2dWeights(f32(`${c.name}.weight`), [cout, cin, kh, kw], f32(`${c.name}.bias`));
  const gw = tensorFromArray(new Float32Array(packed.weight.size), packed.weight.shape);
  const gb = tensorFromArray(new Float32Array(packed.bias!.size), packed.bias!.shape);
  const x = tensorFromArray(f32(`${c.name}.x`), shape(`${c.name}.x`));
  const out = tensorFromArray(f32(`${c.name}.out`), shape(`${c.name}.out`));
  const gout = tensorFromArray(f32(`${c.name}.gout`), shape(`${c.name}.gout`));
  const opts = { stride: 1, padding: 1, relu: true };
  for (let i = 0; i < 2; i++) {
    const r = conv2dBackward(x, packed, gout, { weight: gw, bias: gb }, {
      ...opts,
      out,
      needInputGrad: false,
    });
    assert.equal(r.gradInput, null);
  }
  const ref = packConv2dWeights(f32(`${c.name}.gw`), [cout, cin, kh, kw], f32(`${c.name}.gb`));
  const [gwOut, gbOut, refW, refB] = await readTensors([gw, gb, ref.weight, ref.bias!]);
  assertClose(gwOut, refW.map((v) => 2 * v), 1e-4, "2× grad weight");
  assertClose(gbOut, refB.map((v) => 2 * v), 1e-4, "2× grad bias");
});

Deno.test("conv2dBackward bad calls throw ShapeError naming the op and the shapes", () => {
  const packed = packConv2dWeights(randomFloats(8 * 4 * 9, 1), [8, 4, 3, 3], randomFloats(8, 2));
  const noBias = packConv2dWeights(randomFloats(8 * 4 * 9, 1), [8, 4, 3, 3]);
  const x = tensorFromArray(randomFloats(2 * 5 * 6 * 4, 3), [2, 5, 6, 4]);
  const g = tensorFromArray(randomFloats(2 * 5 * 6 * 8, 4), [2, 5, 6, 8]);
  const opts = { padding: 1 };
  const throwsShape = (fn: () => unknown, re: RegExp) =>
    assert.throws(fn, (e: Error) => e instanceof ShapeError && re.test(e.message));
  throwsShape(
    () => conv2dBackward(x.reshape([10, 6, 4]), packed, g, {}, opts),
    /conv2dBackward: x must have rank 4/,
  );
  const x3 = tensorFromArray(randomFloats(2 * 5 * 6 * 3, 4), [2, 5, 6, 3]);
  throwsShape(
    () => conv2dBackward(x3, packed, g, {}, opts),
    /conv2dBackward: x \[2,5,6,3\].*Cin 3.*Cout 8, Cin 4/,
  );
  throwsShape(
    () => conv2dBackward(x, packed, g, {}, { padding: 0 }),
    /conv2dBackward: gradOut \[2,5,6,8\].*\[2,3,4,8\]/,
  );
  throwsShape(
    () => conv2dBackward(x, packed, g, {}, { padding: 1, relu: true }),
    /relu needs the forward output/,
  );
  const gwWrong = tensorFromArray(new Float32Array(36 * 4), [36, 4]);
  throwsShape(
    () => conv2dBackward(x, packed, g, { weight: gwWrong }, opts),
    /grads.weight \[36,4\].*\[36,8\]/,
  );
  const gb = tensorFromArray(new Float32Array(8), [8]);
  throwsShape(() => conv2dBackward(x, noBias, g, { bias: gb }, opts), /grads.bias \[8\].*no bias/);
});

// The weight gradient with the rows shared through subgroup broadcasts (SUBGROUP_GEMM; Wo 3 and 5, so a
// block of 8 rows crosses image rows and images; M not a multiple of 8, so a tail runs) against the plain
// kernel (bit for bit) and a float64 reference, with one chunk and with split chunks.
for (const [stride, split] of [[1, "direct"], [2, "split"], [1, "split"]] as const) {
  Deno.test(`conv2dBackward weight gradient 3×3 s${stride} 8→12, ${split}: subgroup rows and plain kernel agree bit for bit and match float64`, async () => {
    const [n, h, w, cin, cout, k, pad] = [3, 5, stride === 1 ? 3 : 9, 8, 12, 3, 1];
    const ho = Math.floor((h + 2 * pad - k) / stride) + 1;
    const wo = Math.floor((w + 2 * pad - k) / stride) + 1;
    const xs = randomFloats(n * h * w * cin, 31);
    const gs = randomFloats(n * ho * wo * cout, 32);
    const expected = new Float64Array(cout * cin * k * k);
    forEachConvTerm({ n, h, w, cin, cout, k, stride, pad }, (xi, wi, gi) => {
      expected[wi] += gs[gi] * xs[xi];
    });
    const packed = packConv2dWeights(randomFloats(cout * cin * k * k, 33), [cout, cin, k, k]);
    const ref = packConv2dWeights(Float32Array.from(expected), [cout, cin, k, k]);
    const refW = await ref.weight.read();
    const x = tensorFromArray(xs, [n, h, w, cin]);
    const gout = tensorFromArray(gs, [n, ho, wo, cout]);
    const results: Float32Array[] = [];
    for (const subgroup of [true, false]) {
      await withVariant({ tile: "software", split }, async () => {
        SUBGROUP_GEMM.software = SUBGROUP_GEMM.hardware = subgroup;
        const gw = tensorFromArray(new Float32Array(packed.weight.size), packed.weight.shape);
        conv2dBackward(x, packed, gout, { weight: gw }, { stride, padding: pad, needInputGrad: false });
        results.push((await gw.read()) as Float32Array);
        assertClose(results.at(-1)!, refW, 1e-4, `subgroup ${subgroup}`);
        gw.dispose();
      });
    }
    assert.deepEqual(results[0], results[1]);
    for (const t of [x, gout, packed.weight, ref.weight]) t.dispose();
  });
}

Deno.test("transposePackedWeight matches a CPU per-tap transpose (odd rows and columns, zero padding)", async () => {
  for (const [taps, r1, r2, colsW] of [[3, 5, 7, 8], [1, 16, 12, 12], [9, 3, 64, 64], [2, 8, 1, 4]]) {
    const ws = randomFloats(taps * r1 * colsW, 41 + r1);
    const w = tensorFromArray(ws, [taps * r1, colsW]);
    const c2 = Math.ceil(r1 / 4) * 4;
    const expected = new Float32Array(taps * r2 * c2);
    for (let t = 0; t < taps; t++) {
      for (let j = 0; j < r2; j++) {
        for (let i = 0; i < r1; i++) expected[(t * r2 + j) * c2 + i] = ws[(t * r1 + i) * colsW + j];
      }
    }
    const wt = transposePackedWeight("test", w, taps, r1, r2);
    assert.deepEqual(wt.shape, [taps * r2, c2]);
    assert.deepEqual(await wt.read(), expected, `${taps} ${r1} ${r2} ${colsW}`);
    w.dispose();
    wt.dispose();
  }
});
