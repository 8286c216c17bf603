/**
 * WGSL of the fused loss kernels (forward + gradient in one pass) and their deterministic two-stage
 * reduction. Stage 1 (`lossStage1Wgsl`): a fixed grid of at most `LOSS_MAX_GROUPS` workgroups walks the
 * loss's elements grid-stride; each invocation calls the loss's `element(i)`, which writes the gradient of
 * element i (already divided by the normaliser) and returns its unnormalised loss term; a shared-memory
 * tree sums the workgroup's terms into `partials[wg]`. Stage 2 (`lossFinalizeWgsl`): one workgroup sums
 * the partials in a fixed order and divides by the normaliser. The grid depends only on the element count,
 * so results are bit-for-bit reproducible. A zero normaliser gives loss 0 and gradient 0 (torchvision's
 * mask loss with no positives; torch would give NaN for an empty mean).
 *
 * The normaliser is `value · p.normScale`, where value is `norm[0]` of a u32 or f32 tensor or the
 * constant `p.normConst` (variant `"const"`, no binding).
 * @module
 */

/** Invocations per workgroup of the loss kernels. */
export const LOSS_WORKGROUP = 256;
/** Most workgroups of a stage-1 dispatch (each then loops over its share of the elements). */
export const LOSS_MAX_GROUPS = 1024;

/** Where the normaliser comes from. */
export type NormKind = "u32" | "f32" | "const";

/** The params block of every loss kernel (8 words). */
const PARAMS =
  `struct Params { total: u32, a: u32, b: u32, _p: u32, beta: f32, normConst: f32, normScale: f32, _q: f32 }
@group(0) @binding(0) var<uniform> p: Params;`;

function normWgsl(kind: NormKind, binding: number): string {
  if (kind === "const") return `fn normaliser() -> f32 { return p.normConst * p.normScale; }`;
  return `@group(0) @binding(${binding}) var<storage, read> norm: array<${kind}>;
fn normaliser() -> f32 { return f32(norm[0]) * p.normScale; }`;
}

/** Element functions of the losses: WGSL bodies keyed by loss name, with their storage bindings. */
export const LOSS_ELEMENTS = {
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
} as const;

/** Name of a loss element function. */
export type LossElement = keyof typeof LOSS_ELEMENTS;

const TERMS = /* wgsl */ `
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

/**
 * Stage 1 of a loss: bindings 1.. the element's inputs and gradient, then `partials`, then `norm`.
 *
 * @example
 * ```ts
 * import { lossStage1Wgsl } from "./losses.wgsl.ts";
 * console.log(lossStage1Wgsl("bce", "u32").includes("fn bceTerm"));
 * ```
 */
export function lossStage1Wgsl(loss: LossElement, norm: NormKind): string {
  const { bindings, body } = LOSS_ELEMENTS[loss];
  const decls = bindings.map((b, i) =>
    `@group(0) @binding(${i + 1}) var<storage, ${b.startsWith("grad") ? "read_write" : "read"}> ${b};`
  );
  const k = bindings.length + 1;
  const hasGrad = bindings.some((b) => b.startsWith("grad"));
  return /* wgsl */ `${PARAMS}
${decls.join("\n")}
@group(0) @binding(${k}) var<storage, read_write> partials: array<f32>;
${normWgsl(norm, k + 1)}
${hasGrad ? TERMS : ""}
${body}
var<workgroup> part: array<f32, ${LOSS_WORKGROUP}>;
@compute @workgroup_size(${LOSS_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(num_workgroups) nwg: vec3u) {
  ${hasGrad ? "normV = normaliser();" : "_ = normaliser();"}
  var acc = 0.0;
  for (var i = wid.x * ${LOSS_WORKGROUP}u + lid.x; i < p.total; i += nwg.x * ${LOSS_WORKGROUP}u) {
    acc += element(i);
  }
  part[lid.x] = acc;
  workgroupBarrier();
  for (var s = ${LOSS_WORKGROUP / 2}u; s > 0u; s = s / 2u) {
    if (lid.x < s) { part[lid.x] += part[lid.x + s]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) { partials[wid.x] = part[0]; }
}
`;
}

/**
 * Stage 2: `out[0] = Σ partials[0..p.total) / normaliser` (0 when the normaliser is 0), one workgroup.
 * Bindings: 1 `partials`, 2 `out`, 3 `norm` (unless `"const"`).
 *
 * @example
 * ```ts
 * import { lossFinalizeWgsl } from "./losses.wgsl.ts";
 * console.log(lossFinalizeWgsl("const").includes("partials"));
 * ```
 */
export function lossFinalizeWgsl(norm: NormKind): string {
  return /* wgsl */ `${PARAMS}
@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
${normWgsl(norm, 3)}
var<workgroup> part: array<f32, ${LOSS_WORKGROUP}>;
@compute @workgroup_size(${LOSS_WORKGROUP})
fn main(@builtin(local_invocation_id) lid: vec3u) {
  var acc = 0.0;
  for (var i = lid.x; i < p.total; i += ${LOSS_WORKGROUP}u) { acc += partials[i]; }
  part[lid.x] = acc;
  workgroupBarrier();
  for (var s = ${LOSS_WORKGROUP / 2}u; s > 0u; s = s / 2u) {
    if (lid.x < s) { part[lid.x] += part[lid.x + s]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) {
    let n = normaliser();
    out[0] = select(0.0, part[0] / n, n > 0.0);
  }
}
`;
}
