import assert from "node:assert/strict";
import { getGpu, LimitError, ShapeError, tensorFromArray } from "../../ops/mod.ts";
import {
  conv2d,
  FIT_ROWS,
  foldFrozenBatchNorm,
  FORWARD_KERNEL,
  GEMM_TILES,
  gemmTile,
  packConv2dWeights,
  RUNTIME_EPILOGUE,
  SUBGROUP_GEMM,
  WEIGHT_TEXTURE,
} from "../../ops/conv2d.ts";
import { loadFixture } from "../_fixtures.ts";
import { PATHS } from "./_gemm_paths.ts";
import { forEachConvTerm } from "./_conv_terms.ts";
import { assertClose, randomFloats } from "../_util.ts";

await getGpu();

const fixture = loadFixture("ops/conv2d.json");
const f32 = (name: string) => fixture.tensors[name].data as Float32Array;
const shape = (name: string) => fixture.tensors[name].shape;

interface ConvCase {
  name: string;
  stride: number;
  padding: number;
  bias: boolean;
  residual: boolean;
  relu: boolean;
}

/**
 * Runs `fn` with the adapter's kernel and tile replaced by those of `tile` (the software adapter's direct
 * kernel or the hardware GPUs' workgroup-memory kernel; both run on any adapter).
 */
async function withTile(tile: keyof typeof GEMM_TILES, fn: () => Promise<void>): Promise<void> {
  const saved = { ...GEMM_TILES };
  const savedKernel = { ...FORWARD_KERNEL };
  const savedSubgroup = { ...SUBGROUP_GEMM };
  GEMM_TILES.software = GEMM_TILES.hardware = saved[tile];
  FORWARD_KERNEL.software =
    FORWARD_KERNEL.hardware =
      savedKernel[tile === "hardware" ? "hardware" : "software"];
  SUBGROUP_GEMM.software = SUBGROUP_GEMM.hardware = tile === "subgroup";
  SUBGROUP_GEMM.minK = 0;
  // the software tile compiles its epilogue in, the others read it from the params at run time
  RUNTIME_EPILOGUE.enabled = tile !== "software";
  try {
    await fn();
  } finally {
    Object.assign(GEMM_TILES, saved);
    Object.assign(FORWARD_KERNEL, savedKernel);
    Object.assign(SUBGROUP_GEMM, savedSubgroup);
    RUNTIME_EPILOGUE.enabled = true;
  }
}

for (
  const [c, tile] of (fixture.meta.cases as ConvCase[]).flatMap((c) =>
    // software: compiled epilogue
    [[c, "software"], [c, "subgroup"], [c, "hardware"]] as const
  )
) {
  const [cout, cin, kh, kw] = shape(`${c.name}.weight`);
  Deno.test(
    `conv2d matches torch with the ${tile} tile: ${c.name} (${kh}×${kw} s${c.stride} p${c.padding} ${cin}→${cout}` +
      `${c.bias ? " bias" : ""}${c.residual ? " residual" : ""}${c.relu ? " relu" : ""})`,
    () =>
      withTile(tile, async () => {
        const packed = packConv2dWeights(
          f32(`${c.name}.weight`),
          [cout, cin, kh, kw],
          c.bias ? f32(`${c.name}.bias`) : undefined,
        );
        const x = tensorFromArray(f32(`${c.name}.x`), shape(`${c.name}.x`));
        const residual = c.residual
          ? tensorFromArray(f32(`${c.name}.residual`), shape(`${c.name}.residual`))
          : undefined;
        const y = conv2d(x, packed, { stride: c.stride, padding: c.padding, residual, relu: c.relu });
        assert.deepEqual(y.shape, shape(`${c.name}.out`));
        assertClose(await y.read(), f32(`${c.name}.out`), 1e-4, c.name);
        for (const t of [x, y, residual, packed.weight, packed.bias]) t?.dispose();
      }),
  );
}

/** Float64 reference conv: x NHWC, w torch `[Cout, Cin, k, k]`, bias; zero padding, then ReLU. */
function referenceConv(
  x: Float32Array,
  [n, h, w, cin]: number[],
  wt: Float32Array,
  [cout, k]: number[],
  bias: Float32Array,
  stride: number,
  pad: number,
): Float64Array {
  const ho = Math.floor((h + 2 * pad - k) / stride) + 1;
  const wo = Math.floor((w + 2 * pad - k) / stride) + 1;
  const out = Float64Array.from({ length: n * ho * wo * cout }, (_, i) => bias[i % cout]);
  forEachConvTerm({ n, h, w, cin, cout, k, stride, pad }, (xi, wi, oi) => {
    out[oi] += x[xi] * wt[wi];
  });
  return out.map((s) => Math.max(s, 0));
}

// Cout a multiple of 64: the software adapter reads the weights from a texture (ops/conv2d.ts
// WEIGHT_TEXTURE); both weight paths, with and without the subgroup broadcast of the activations
// (SUBGROUP_GEMM: Cin 40 and 72 run whole blocks of 8 vec4 channel steps and a tail), with rows fitted or
// not (FIT_ROWS: 2×6×7 = 84 output rows, or 24 at stride 2, clamp over a quarter of a 64-row tile), must
// match a float64 reference and each other bit for bit.
for (
  const [cin, cout, k, stride] of [[16, 64, 3, 1], [8, 128, 1, 2], [3, 64, 3, 2], [40, 64, 3, 1], [
    72,
    24,
    1,
    2,
  ]]
) {
  Deno.test(`conv2d ${k}×${k} s${stride} ${cin}→${cout}: weight texture and buffer paths, subgroup A or not, match float64`, async () => {
    const shape = [2, 6, 7, cin];
    const xs = randomFloats(2 * 6 * 7 * cin, 11);
    const ws = randomFloats(cout * cin * k * k, 12, -0.3, 0.3);
    const bs = randomFloats(cout, 13);
    const packed = packConv2dWeights(ws, [cout, cin, k, k], bs);
    const x = tensorFromArray(xs, shape);
    const pad = (k - 1) / 2;
    const expected = referenceConv(xs, shape, ws, [cout, k], bs, stride, pad);
    const saved = { ...WEIGHT_TEXTURE };
    const savedSubgroup = { ...SUBGROUP_GEMM };
    const results: Float32Array[] = [];
    try {
      for (const [texture, subgroup, fit] of PATHS) {
        WEIGHT_TEXTURE.software = WEIGHT_TEXTURE.hardware = texture;
        SUBGROUP_GEMM.software = SUBGROUP_GEMM.hardware = subgroup;
        SUBGROUP_GEMM.minK = 0;
        FIT_ROWS.enabled = fit;
        const y = conv2d(x, packed, { stride, padding: pad, relu: true });
        results.push((await y.read()) as Float32Array);
        assertClose(
          results.at(-1)!,
          expected,
          1e-4,
          `texture ${texture} subgroup ${subgroup} fit rows ${fit}`,
        );
        y.dispose();
      }
    } finally {
      Object.assign(WEIGHT_TEXTURE, saved);
      Object.assign(SUBGROUP_GEMM, savedSubgroup);
      FIT_ROWS.enabled = true;
    }
    for (const r of results.slice(1)) assert.deepEqual(r, results[0]);
    for (const t of [x, packed.weight, packed.bias]) t?.dispose();
  });
}

Deno.test("gemmTile fits full-width tiles one invocation row shorter where a quarter of the rows would be clamped", () => {
  const saved = { ...SUBGROUP_GEMM };
  try {
    for (const subgroup of [true, false]) {
      SUBGROUP_GEMM.software = SUBGROUP_GEMM.hardware = subgroup;
      const base = gemmTile(32, { k: 1024 });
      const rowsPerGroup = (rows: number) => {
        const t = gemmTile(32, { k: 1024, rows });
        assert.deepEqual({ ...t, wy: base.wy }, base, "only the height changes");
        return t.tm * t.wy;
      };
      const full = base.tm * base.wy;
      assert.equal(rowsPerGroup(36), full - base.tm, "36 rows: 56 % of a full tile");
      assert.equal(rowsPerGroup(3 * (full - base.tm)), full - base.tm, "three shorter tiles fit exactly");
      assert.equal(rowsPerGroup(full * 36), full, "whole tiles");
      assert.equal(rowsPerGroup(full * 3 + base.tm), full, "under a quarter clamped");
      FIT_ROWS.enabled = false;
      assert.equal(rowsPerGroup(36), full, "FIT_ROWS off");
      FIT_ROWS.enabled = true;
    }
    const narrow = gemmTile(1, { k: 16 });
    assert.deepEqual(gemmTile(1, { k: 16, rows: 5 }), narrow, "narrow tiles keep their height");
  } finally {
    Object.assign(SUBGROUP_GEMM, saved);
    FIT_ROWS.enabled = true;
  }
});

Deno.test("conv2d with folded FrozenBatchNorm2d matches torch conv → FrozenBatchNorm2d → ReLU (stem)", async () => {
  const bn = loadFixture("ops/conv2d_frozen_bn.json");
  const g = (n: string) => bn.tensors[`stem.${n}`].data as Float32Array;
  const meta = (bn.meta.cases as { stride: number; padding: number; eps: number }[])[0];
  const [cout, cin, kh, kw] = bn.tensors["stem.weight"].shape;
  const folded = foldFrozenBatchNorm(
    g("weight"),
    undefined,
    g("bn_weight"),
    g("bn_bias"),
    g("running_mean"),
    g("running_var"),
    meta.eps,
  );
  const packed = packConv2dWeights(folded.weight, [cout, cin, kh, kw], folded.bias);
  const x = tensorFromArray(g("x"), bn.tensors["stem.x"].shape);
  const y = conv2d(x, packed, { stride: meta.stride, padding: meta.padding, relu: true });
  assert.deepEqual(y.shape, bn.tensors["stem.out"].shape);
  assertClose(await y.read(), g("out"), 1e-4, "stem");
});

Deno.test("foldFrozenBatchNorm keeps an existing conv bias: (b − mean)·scale + beta", () => {
  const w = randomFloats(2 * 3, 1);
  const b = randomFloats(2, 2);
  const gamma = randomFloats(2, 3, 0.5, 2);
  const beta = randomFloats(2, 4);
  const mean = randomFloats(2, 5);
  const variance = randomFloats(2, 6, 0.1, 2);
  const f = foldFrozenBatchNorm(w, b, gamma, beta, mean, variance, 1e-5);
  for (let co = 0; co < 2; co++) {
    const scale = gamma[co] / Math.sqrt(variance[co] + 1e-5);
    assertClose(
      f.weight.subarray(co * 3, co * 3 + 3),
      Array.from(w.subarray(co * 3, co * 3 + 3), (v) => v * scale),
      1e-6,
    );
    assertClose([f.bias[co]], [(b[co] - mean[co]) * scale + beta[co]], 1e-6);
  }
});

Deno.test("conv2d bad calls throw ShapeError naming the op and the shapes", () => {
  const packed = packConv2dWeights(randomFloats(8 * 4 * 9, 1), [8, 4, 3, 3], randomFloats(8, 2));
  const x = tensorFromArray(randomFloats(2 * 5 * 6 * 4, 3), [2, 5, 6, 4]);
  assert.throws(
    () => conv2d(x.reshape([10, 6, 4]), packed),
    (e: Error) => e instanceof ShapeError && /conv2d: x must have rank 4.*\[10,6,4\]/.test(e.message),
  );
  const x3 = tensorFromArray(randomFloats(2 * 5 * 6 * 3, 4), [2, 5, 6, 3]);
  assert.throws(
    () => conv2d(x3, packed, { padding: 1 }),
    (e: Error) => e instanceof ShapeError && /conv2d: x \[2,5,6,3\].*Cin 3.*Cout 8, Cin 4/.test(e.message),
  );
  const wrong = tensorFromArray(randomFloats(2 * 5 * 6 * 8, 5), [2, 5, 6, 8]);
  assert.throws(
    () => conv2d(x, packed, { residual: wrong }), // no padding: output is [2,3,4,8]
    (e: Error) => e instanceof ShapeError && /conv2d: residual \[2,5,6,8\].*\[2,3,4,8\]/.test(e.message),
  );
  assert.throws(() => packConv2dWeights(new Float32Array(10), [8, 4, 3, 3]), ShapeError);
});

Deno.test("conv2d throws LimitError naming the shapes when a binding exceeds the device limit", () => {
  const packed = packConv2dWeights(randomFloats(8 * 4, 1), [8, 4, 1, 1]);
  // 4 × 2048 × 2048 × 4 floats = 256 MiB of output > the 128 MiB storage binding limit (never dispatched).
  const x = tensorFromArray(new Float32Array(4 * 4), [1, 2, 2, 4]);
  const big = x.reshape([1, 2, 2, 4]);
  const fake = Object.create(big, {
    shape: { value: [4, 2048, 2048, 4] },
    size: { value: 4 * 2048 * 2048 * 4 },
  });
  assert.throws(
    () => conv2d(fake, packed),
    (e: Error) =>
      e instanceof LimitError && /conv2d: x \[4,2048,2048,4\].*maxStorageBufferBindingSize/.test(e.message),
  );
});
