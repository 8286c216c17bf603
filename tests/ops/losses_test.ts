import assert from "node:assert/strict";
import { DTypeError, getGpu, readTensors, ShapeError, tensorFromArray } from "../../ops/mod.ts";
import {
  bceWithLogits,
  countNonzero,
  maskBceLoss,
  smoothL1,
  smoothL1ClassSelected,
  softmaxCrossEntropy,
} from "../../ops/losses.ts";
import { type FixtureTensor, loadFixture } from "../_fixtures.ts";
import { assertClose, randomFloats, rng } from "../_util.ts";

await getGpu();
// torch 1.13 / torchvision 0.14 autograd in float64 (tools/reference/make_backward_fixtures.py):
// fastrcnn_loss itself for the box head, F.cross_entropy / F.binary_cross_entropy_with_logits /
// F.smooth_l1_loss for the rest, the mask loss as maskrcnn_loss computes it from its targets.
const fx = loadFixture("ops/losses.json");
const T = fx.tensors;
const f32 = (t: FixtureTensor) => tensorFromArray(t.data as Float32Array, t.shape);
const i32 = (t: FixtureTensor) => tensorFromArray(t.data as Int32Array, t.shape);
const u32 = (t: FixtureTensor) => tensorFromArray(new Uint32Array(t.data as Int32Array), t.shape);
const beta = fx.meta.beta as number;

Deno.test("softmaxCrossEntropy equals fastrcnn_loss's classification loss and its gradient", async () => {
  const { loss, grad } = softmaxCrossEntropy(f32(T.fr_logits), i32(T.fr_labels));
  const [l, g] = await readTensors([loss, grad]);
  assert.deepEqual(loss.shape, [1]);
  assertClose(l, T.fr_cls_loss.data, 1e-6, "loss");
  assertClose(g, T.fr_cls_grad.data, 1e-5, "grad");
});

Deno.test("softmaxCrossEntropy averages over valid rows only (GPU count)", async () => {
  const { loss, grad } = softmaxCrossEntropy(f32(T.fr_logits), i32(T.fr_labels), u32(T.ce_valid));
  const [l, g] = await readTensors([loss, grad]);
  assertClose(l, T.ce_loss.data, 1e-6, "loss");
  assertClose(g, T.ce_grad.data, 1e-5, "grad");
});

Deno.test("smoothL1ClassSelected equals fastrcnn_loss's box loss; gradient in the label's columns", async () => {
  const labels = T.fr_labels.data as Int32Array;
  const positive = tensorFromArray(Uint32Array.from(labels, (v) => (v > 0 ? 1 : 0)), [labels.length]);
  const { loss, grad } = smoothL1ClassSelected(
    f32(T.fr_box_regression),
    i32(T.fr_labels),
    f32(T.fr_targets),
    positive,
    beta,
    labels.length, // torchvision divides by labels.numel()
  );
  const [l, g] = await readTensors([loss, grad]);
  assert.deepEqual(grad.shape, T.fr_box_grad.shape);
  assertClose(l, T.fr_box_loss.data, 1e-6, "loss");
  assertClose(g, T.fr_box_grad.data, 1e-5, "grad");
});

Deno.test("bceWithLogits equals F.binary_cross_entropy_with_logits over sampled anchors, extreme logits", async () => {
  for (const norm of ["u32", "f32", "number"] as const) {
    const count = (T.bce_count.data as Int32Array)[0];
    const normaliser = norm === "number"
      ? count
      : norm === "u32"
      ? tensorFromArray(new Uint32Array([count]), [1])
      : tensorFromArray(new Float32Array([count]), [1]);
    const { loss, grad } = bceWithLogits(f32(T.bce_logits), f32(T.bce_targets), u32(T.bce_valid), normaliser);
    const [l, g] = await readTensors([loss, grad]);
    assertClose(l, T.bce_loss.data, 1e-6, `loss (${norm} normaliser)`);
    assertClose(g, T.bce_grad.data, 1e-5, `grad (${norm} normaliser)`);
  }
});

Deno.test("smoothL1 equals F.smooth_l1_loss(sum, beta 1/9) / normaliser on valid rows", async () => {
  const norm = fx.meta.rpn_box_normaliser as number;
  const { loss, grad } = smoothL1(
    f32(T.sl1_pred),
    f32(T.sl1_target),
    u32(T.sl1_valid),
    beta,
    tensorFromArray(new Uint32Array([norm]), [1]),
  );
  const [l, g] = await readTensors([loss, grad]);
  assertClose(l, T.sl1_loss.data, 1e-6, "loss");
  assertClose(g, T.sl1_grad.data, 1e-5, "grad");
});

Deno.test("maskBceLoss equals maskrcnn_loss's BCE on the label channel; zero gradient elsewhere", async () => {
  const positive = u32(T.mask_positive);
  const { loss, grad } = maskBceLoss(
    f32(T.mask_logits),
    i32(T.mask_labels),
    f32(T.mask_targets),
    positive,
    countNonzero(positive),
  );
  const [l, g] = await readTensors([loss, grad]);
  assert.deepEqual(grad.shape, T.mask_logits.shape);
  assertClose(l, T.mask_loss.data, 1e-6, "loss");
  assertClose(g, T.mask_grad.data, 1e-5, "grad");
});

Deno.test("maskBceLoss with no positive rows gives loss 0 and gradient 0 (as torchvision)", async () => {
  const r = 2;
  const positive = tensorFromArray(new Uint32Array(r), [r]);
  const { loss, grad } = maskBceLoss(
    tensorFromArray(randomFloats(r * 28 * 28 * 3, 1), [r, 28, 28, 3]),
    tensorFromArray(new Int32Array([1, 2]), [r]),
    tensorFromArray(randomFloats(r * 28 * 28, 2, 0, 1), [r, 28, 28]),
    positive,
    countNonzero(positive),
  );
  const [l, g] = await readTensors([loss, grad]);
  assert.deepEqual([...l], [0]);
  assert.ok(g.every((v) => v === 0));
});

Deno.test("bceWithLogits over 2·242,991 anchors matches a float64 reference and is reproducible", async () => {
  const n = 2 * 242991;
  const next = rng(42);
  const x = randomFloats(n, 9, -8, 8);
  const t = Float32Array.from({ length: n }, () => (next() < 0.5 ? 1 : 0));
  const valid = Uint32Array.from({ length: n }, () => (next() < 0.6 ? 1 : 0));
  let sum = 0;
  let count = 0;
  for (let i = 0; i < n; i++) {
    if (!valid[i]) continue;
    count++;
    sum += Math.max(x[i], 0) - x[i] * t[i] + Math.log1p(Math.exp(-Math.abs(x[i])));
  }
  const args = [
    tensorFromArray(x, [n]),
    tensorFromArray(t, [n]),
    tensorFromArray(valid, [n]),
  ] as const;
  const normaliser = countNonzero(args[2]);
  const a = bceWithLogits(...args, normaliser);
  const b = bceWithLogits(...args, normaliser);
  const [la, lb, cnt, g] = await readTensors([a.loss, b.loss, normaliser, a.grad]);
  assert.equal(cnt[0], count);
  assertClose(la, [sum / count], 1e-5, "loss");
  assert.deepEqual(la, lb);
  const i = valid.indexOf(1);
  assertClose([g[i]], [(1 / (1 + Math.exp(-x[i])) - t[i]) / count], 1e-5, "grad");
});

Deno.test("losses reject bad shapes and dtypes, naming op and shapes", () => {
  const logits = tensorFromArray(new Float32Array(12), [4, 3]);
  const labels = tensorFromArray(new Int32Array(4), [4]);
  assert.throws(
    () => softmaxCrossEntropy(logits, tensorFromArray(new Int32Array(3), [3])),
    (e: Error) =>
      e instanceof ShapeError && /softmaxCrossEntropy: labels \[3\] i32 must be \[4\] i32/.test(e.message),
  );
  assert.throws(
    () => softmaxCrossEntropy(logits, tensorFromArray(new Float32Array(4), [4])),
    (e: Error) => e instanceof DTypeError && /softmaxCrossEntropy: labels/.test(e.message),
  );
  const valid = tensorFromArray(new Uint32Array(4), [4]);
  assert.throws(
    () => bceWithLogits(logits, logits, valid, 1),
    (e: Error) => e instanceof ShapeError && /bceWithLogits: logits must have rank 1/.test(e.message),
  );
  assert.throws(
    () => bceWithLogits(labels.reshape([4]) as never, logits, valid, 1),
    DTypeError,
  );
  assert.throws(
    () => bceWithLogits(tensorFromArray(new Float32Array(4), [4]), logits, valid, 1),
    (e: Error) =>
      e instanceof ShapeError && /bceWithLogits: targets \[4,3\] f32 must be \[4\]/.test(e.message),
  );
  assert.throws(
    () => smoothL1(logits, tensorFromArray(new Float32Array(8), [4, 2]), valid, 1 / 9, 1),
    (e: Error) => e instanceof ShapeError && /smoothL1: target \[4,2\] f32 must be \[4,3\]/.test(e.message),
  );
  assert.throws(
    () =>
      smoothL1ClassSelected(logits, labels, tensorFromArray(new Float32Array(16), [4, 4]), valid, 1 / 9, 4),
    (e: Error) =>
      e instanceof ShapeError &&
      /smoothL1ClassSelected: boxRegression \[4,3\] f32 must have 4·C/.test(e.message),
  );
  assert.throws(
    () =>
      maskBceLoss(
        tensorFromArray(new Float32Array(4 * 9 * 2), [4, 3, 3, 2]),
        labels,
        tensorFromArray(new Float32Array(4 * 4), [4, 2, 2]),
        valid,
        1,
      ),
    (e: Error) =>
      e instanceof ShapeError && /maskBceLoss: targets \[4,2,2\] f32 must be \[4,3,3\]/.test(e.message),
  );
  assert.throws(
    () =>
      bceWithLogits(
        tensorFromArray(new Float32Array(4), [4]),
        tensorFromArray(new Float32Array(4), [4]),
        valid,
        tensorFromArray(new Float32Array(2), [2]),
      ),
    (e: Error) => e instanceof ShapeError && /normaliser \[2\] f32 must hold one element/.test(e.message),
  );
});
