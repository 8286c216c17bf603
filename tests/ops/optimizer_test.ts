import assert from "node:assert/strict";
import {
  adamwUpdate,
  flagNonFinite,
  globalGradNorm,
  sgdUpdate,
  type UpdateTarget,
} from "../../ops/optimizer.ts";
import { DTypeError, ShapeError } from "../../ops/errors.ts";
import { getGpu } from "../../ops/gpu.ts";
import { fill } from "../../ops/elementwise.ts";
import { readTensors, type Tensor, tensorFromArray } from "../../ops/tensor.ts";
import { loadFixture } from "../_fixtures.ts";
import { assertClose, randomFloats } from "../_util.ts";

await getGpu();

type Kind = "sgd" | "adamw";
const STATE: Record<Kind, string[]> = { sgd: ["momentum_buffer"], adamw: ["exp_avg", "exp_avg_sq"] };

function f32(fx: ReturnType<typeof loadFixture>, name: string): Float32Array {
  return fx.tensors[name].data as Float32Array;
}

function update(kind: Kind, meta: Record<string, unknown>, targets: UpdateTarget[], step: number, extra: {
  lr: number;
  norm?: Tensor;
  skip?: Tensor;
}) {
  const o = { ...extra, weightDecay: meta.weight_decay as number, maxNorm: (meta.clip as number) ?? 0 };
  if (kind === "sgd") sgdUpdate(targets, { ...o, momentum: meta.momentum as number });
  else {adamwUpdate(targets, {
      ...o,
      step: step + 1,
      betas: meta.betas as [number, number],
      eps: meta.eps as number,
    });}
}

for (const kind of ["sgd", "adamw"] as const) {
  for (const tag of ["", "_clip"]) {
    Deno.test(`${kind}${tag}: params and state match torch.optim after 3 steps, padded columns stay 0`, async () => {
      const fx = loadFixture(`ops/optimizer_${kind}${tag}.json`);
      const meta = fx.meta;
      const names = meta.names as string[];
      const targets: UpdateTarget[] = names.map((name) => {
        const shape = fx.tensors[`${name}.param0`].shape;
        const size = shape.reduce((a, b) => a * b, 1);
        return {
          param: tensorFromArray(f32(fx, `${name}.param0`), shape),
          grad: tensorFromArray(new Float32Array(size), shape),
          state: STATE[kind].map(() => fill(shape, 0)),
        };
      });
      const norms: Tensor[] = [];
      for (let step = 0; step < (meta.steps as number); step++) {
        const stepTargets = targets.map((t, i) => ({
          ...t,
          grad: tensorFromArray(f32(fx, `${names[i]}.grad${step}`), t.param.shape),
        }));
        const norm = meta.clip ? globalGradNorm(stepTargets) : undefined;
        if (norm) norms.push(norm);
        const lr = (meta.base_lr as number) * (1 + (meta.lr_growth as number) * step);
        update(kind, meta, stepTargets, step, { lr, norm });
      }
      const all = targets.flatMap((t) => [t.param, ...t.state]);
      const data = await readTensors([...all, ...norms]);
      names.forEach((name, i) => {
        const [param, ...state] = data.slice(
          i * all.length / names.length,
          (i + 1) * all.length / names.length,
        );
        assertClose(param, f32(fx, `${name}.param`), 1e-6, `${name} param`);
        STATE[kind].forEach((s, k) => assertClose(state[k], f32(fx, `${name}.${s}`), 1e-6, `${name} ${s}`));
        const pad = (meta.pads as number[])[i];
        if (pad) {
          const cols = targets[i].param.shape.at(-1)!;
          for (const values of [param, ...state]) {
            for (let j = 0; j < values.length; j++) if (j % cols >= cols - pad) assert.equal(values[j], 0);
          }
        }
      });
      const refNorms = meta.norms as number[];
      refNorms.forEach((n, step) => assertClose(data[all.length + step], [n], 1e-6, `norm of step ${step}`));
    });
  }

  Deno.test(`${kind}: a column-scaled (folded batch norm) param follows torch on the unfolded weight`, async () => {
    const fx = loadFixture(`ops/optimizer_${kind}_scaled.json`);
    const meta = fx.meta;
    const shape = fx.tensors.w0.shape;
    const scale = f32(fx, "scale");
    const cols = scale.length;
    const w0 = f32(fx, "w0");
    const target: UpdateTarget = {
      param: tensorFromArray(w0.map((v, i) => v * scale[i % cols]), shape),
      grad: fill(shape, 0),
      state: STATE[kind].map(() => fill(shape, 0)),
      columnScale: tensorFromArray(scale, [cols]),
    };
    const norms: Tensor[] = [];
    for (let step = 0; step < (meta.steps as number); step++) {
      const grad = tensorFromArray(f32(fx, `grad${step}`).map((g, i) => g / scale[i % cols]), shape);
      const t = { ...target, grad };
      const norm = globalGradNorm([t]);
      norms.push(norm);
      update(kind, meta, [t], step, { lr: meta.lr as number, norm });
    }
    const [param, ...rest] = await readTensors([target.param, ...target.state, ...norms]);
    assertClose(param.map((v, i) => v / scale[i % cols]), f32(fx, "param"), 1e-6, "unfolded param");
    STATE[kind].forEach((s, k) => assertClose(rest[k], f32(fx, s), 1e-6, s));
    (meta.norms as number[]).forEach((n, i) => assertClose(rest[STATE[kind].length + i], [n], 1e-6, "norm"));
  });

  Deno.test(`${kind}: a set skip flag (non-finite loss or gradient norm) leaves params and state bit-identical`, async () => {
    const shape = [13, 8];
    const make = (seed: number) => tensorFromArray(randomFloats(104, seed), shape);
    const targets: UpdateTarget[] = [0, 1].map((i) => ({
      param: make(10 + i),
      grad: make(20 + i),
      state: STATE[kind].map((_, k) => make(30 + 2 * i + k)),
    }));
    const tensors = targets.flatMap((t) => [t.param, ...t.state]);
    const before = await readTensors(tensors);
    const meta = { weight_decay: 0.01, momentum: 0.9, clip: 1 };
    const losses = tensorFromArray(new Float32Array([0.5, 1.5, NaN, 2, 0.1]), [5]);
    const skip = flagNonFinite(losses);
    update(kind, meta, targets, 0, { lr: 0.1, skip, norm: globalGradNorm(targets, skip) });
    // a finite loss but an infinite gradient: the norm kernel sets bit 31
    const badGrad = tensorFromArray(new Float32Array(104).fill(Infinity), shape);
    const skip2 = flagNonFinite(tensorFromArray(new Float32Array([1, 2]), [2]));
    const bad = targets.map((t) => ({ ...t, grad: badGrad }));
    update(kind, meta, bad, 1, { lr: 0.1, skip: skip2, norm: globalGradNorm(bad, skip2) });
    const after = await readTensors([...tensors, skip, skip2]);
    assert.deepEqual([...after[tensors.length]], [4]);
    assert.deepEqual([...after[tensors.length + 1]], [0x80000000]);
    tensors.forEach((_, i) => assert.deepEqual(after[i], before[i], `tensor ${i} changed`));
    // and with a clear flag the same call does update
    const clear = flagNonFinite(tensorFromArray(new Float32Array([1, 2]), [2]));
    update(kind, meta, targets, 0, { lr: 0.1, skip: clear, norm: globalGradNorm(targets, clear) });
    assert.notDeepEqual(await targets[0].param.read(), before[0]);
  });
}

Deno.test("flagNonFinite sets one bit per non-finite loss (element or tensor index)", async () => {
  const stacked = tensorFromArray(new Float32Array([1, Infinity, 2, -Infinity, NaN]), [5]);
  const list = [1, NaN, 3].map((v) => tensorFromArray(new Float32Array([v, 0]), [2]));
  const into = flagNonFinite([tensorFromArray(new Float32Array([1]), [1])]);
  flagNonFinite(list, into);
  const [a, b] = await readTensors([flagNonFinite(stacked), into]);
  assert.deepEqual([...a, ...b], [0b11010, 0b10]);
});

Deno.test("globalGradNorm sums squares across tensors and workgroups (vec4, scalar and scaled paths)", async () => {
  const big = randomFloats(40_000, 7); // vec4, 3 workgroups
  const odd = randomFloats(16_411, 8); // scalar, 2 workgroups
  const scaled = randomFloats(36 * 12, 9);
  const scale = randomFloats(12, 10, 0.5, 2);
  const [norm] = await readTensors([globalGradNorm([
    { grad: tensorFromArray(big, [200, 200]) },
    { grad: tensorFromArray(odd, [16_411]) },
    { grad: tensorFromArray(scaled, [36, 12]), columnScale: tensorFromArray(scale, [12]) },
  ])]);
  let s = 0;
  for (const v of [...big, ...odd]) s += v * v;
  scaled.forEach((v, i) => s += (v * scale[i % 12]) ** 2);
  assertClose(norm, [Math.sqrt(s)], 1e-6, "norm");
});

Deno.test("optimizer updates reject mismatched targets and options", () => {
  const p = fill([4, 4], 1);
  const g = fill([4, 4], 1);
  const wrong = fill([16], 0);
  assert.throws(
    () => sgdUpdate([{ param: p, grad: wrong, state: [fill([4, 4], 0)] }], { lr: 1 }),
    ShapeError,
  );
  assert.throws(() => sgdUpdate([{ param: p, grad: g, state: [] }], { lr: 1 }), /1 state tensors|0 state/);
  assert.throws(() => sgdUpdate([{ param: p, grad: g, state: [wrong] }], { lr: 1 }), ShapeError);
  assert.throws(() => adamwUpdate([{ param: p, grad: g, state: [g, g] }], { lr: 1, step: 0 }), /step/);
  assert.throws(() => sgdUpdate([{ param: p, grad: g, state: [g] }], { lr: 1, maxNorm: 1 }), /norm tensor/);
  assert.throws(
    () => sgdUpdate([{ param: p, grad: g, state: [g] }], { lr: 1, skip: fill([1], 0, "f32") }),
    DTypeError,
  );
  assert.throws(
    () => sgdUpdate([{ param: p, grad: g, state: [g], columnScale: fill([3], 1) }], { lr: 1 }),
    /columnScale/,
  );
  assert.throws(() => flagNonFinite(fill([2], 0, "i32")), DTypeError);
});
