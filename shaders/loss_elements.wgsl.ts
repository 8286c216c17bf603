/**
 * WGSL element functions of the fused losses (`fn element(i) -> f32`: writes the gradient of element i,
 * already divided by the normaliser through `scaled`, and returns its unnormalised loss term) and the
 * shared terms (`bceTerm`, `smoothL1Term`). Assembled into the reduction kernels of `losses.wgsl.ts` by
 * `ops/losses.ts`; they expect that file's `Params` block (`p.a`, `p.b`, `p.beta`).
 * @module
 */

/** One loss's element function and the storage bindings it reads (and `grad` it writes). */
export interface LossElementWgsl {
  /** `name: array<T>` declarations, in binding order; the one named `grad` is read_write. */
  bindings: readonly string[];
  /** Declares `fn element(i: u32) -> f32`. */
  body: string;
}

/** Names of the loss element functions. */
export type LossName =
  | "crossEntropy"
  | "bce"
  | "smoothL1"
  | "smoothL1ClassSelected"
  | "maskBce"
  | "countNonzero";

/** Element functions of the losses: WGSL bodies keyed by loss name, with their storage bindings. */
export const LOSS_ELEMENTS: Record<LossName, LossElementWgsl> = {
  /** Row r of logits [R, C=p.a]: −log softmax[label]; grad softmax − onehot. */
  crossEntropy: {
    bindings: ["logits: array<f32>", "labels: array<i32>", "valid: array<u32>", "grad: array<f32>"],
    body: `fn element(r: u32) -> f32 {
  let cols = p.a;
  let row = r * cols;
  let lbl = labels[r];
  if (valid[r] == 0u || lbl < 0 || u32(lbl) >= cols) {
    for (var k = 0u; k < cols; k++) { grad[row + k] = 0.0; }
    return 0.0;
  }
  var m = logits[row];
  for (var k = 1u; k < cols; k++) { m = max(m, logits[row + k]); }
  var s = 0.0;
  for (var k = 0u; k < cols; k++) { s += exp(logits[row + k] - m); }
  for (var k = 0u; k < cols; k++) {
    grad[row + k] = scaled(exp(logits[row + k] - m) / s - select(0.0, 1.0, k == u32(lbl)));
  }
  return log(s) - (logits[row + u32(lbl)] - m);
}`,
  },
  /** Element i of logits [N]: BCE with logits against targets[i] where valid[i]. */
  bce: {
    bindings: ["logits: array<f32>", "targets: array<f32>", "valid: array<u32>", "grad: array<f32>"],
    body: `fn element(i: u32) -> f32 {
  if (valid[i] == 0u) { grad[i] = 0.0; return 0.0; }
  return bceTerm(logits[i], targets[i], i);
}`,
  },
  /** Element i of pred [N, K=p.a]: smooth L1 against goal (the target) where valid[row]. */
  smoothL1: {
    bindings: ["pred: array<f32>", "goal: array<f32>", "valid: array<u32>", "grad: array<f32>"],
    body: `fn element(i: u32) -> f32 {
  if (valid[i / p.a] == 0u) { grad[i] = 0.0; return 0.0; }
  return smoothL1Term(pred[i] - goal[i], i);
}`,
  },
  /** Element i of boxRegression [R, 4C=p.a]: smooth L1 on the label's 4 columns of positive rows. */
  smoothL1ClassSelected: {
    bindings: [
      "boxRegression: array<f32>",
      "labels: array<i32>",
      "targets: array<f32>",
      "positive: array<u32>",
      "grad: array<f32>",
    ],
    body: `fn element(i: u32) -> f32 {
  let r = i / p.a;
  let col = i % p.a;
  let lbl = labels[r];
  if (positive[r] == 0u || lbl < 0 || col / 4u != u32(lbl)) { grad[i] = 0.0; return 0.0; }
  return smoothL1Term(boxRegression[i] - targets[r * 4u + col % 4u], i);
}`,
  },
  /** Element i of maskLogits [R, M·M=p.b, C=p.a]: BCE on the label channel of positive rows. */
  maskBce: {
    bindings: [
      "logits: array<f32>",
      "labels: array<i32>",
      "targets: array<f32>",
      "positive: array<u32>",
      "grad: array<f32>",
    ],
    body: `fn element(i: u32) -> f32 {
  let c = i % p.a;
  let pix = i / p.a;
  let lbl = labels[pix / p.b];
  if (positive[pix / p.b] == 0u || lbl < 0 || c != u32(lbl)) { grad[i] = 0.0; return 0.0; }
  return bceTerm(logits[i], targets[pix], i);
}`,
  },
  /** Element i of mask [N]: 1 where nonzero (no gradient). */
  countNonzero: {
    bindings: ["mask: array<u32>"],
    body: `fn element(i: u32) -> f32 { return select(0.0, 1.0, mask[i] != 0u); }`,
  },
};

/**
 * `scaled` (division by the normaliser, 0 when it is 0), `log1pSmall`, `bceTerm` and `smoothL1Term`; needed
 * by every element function that writes a gradient.
 */
export const LOSS_TERMS_WGSL: string = /* wgsl */ `
var<private> normV: f32;
fn scaled(g: f32) -> f32 { return select(0.0, g / normV, normV > 0.0); }
// log(1 + z) for z in [0, 1], accurate for tiny z (Goldberg's trick; WGSL has no log1p).
fn log1pSmall(z: f32) -> f32 {
  let u = 1.0 + z;
  if (u == 1.0) { return z; }
  return log(u) * (z / (u - 1.0));
}
// max(x, 0) − x·t + log1p(exp(−|x|)); gradient sigmoid(x) − t.
fn bceTerm(x: f32, t: f32, gi: u32) -> f32 {
  let e = exp(-abs(x));
  let sig = select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
  grad[gi] = scaled(sig - t);
  return max(x, 0.0) - x * t + log1pSmall(e);
}
// torch's smooth_l1: 0.5·d²/β when |d| < β, else |d| − 0.5·β; gradient d/β or sign(d).
fn smoothL1Term(d: f32, gi: u32) -> f32 {
  let ad = abs(d);
  if (ad < p.beta) {
    grad[gi] = scaled(d / p.beta);
    return 0.5 * d * d / p.beta;
  }
  grad[gi] = scaled(sign(d));
  return ad - 0.5 * p.beta;
}`;
