/**
 * WGSL of the optimizer: in-place SGD (momentum, weight decay) and AdamW updates of one parameter tensor,
 * the two-stage global gradient norm (sum of squares per workgroup, then one workgroup → sqrt), and the
 * non-finite flag. Update kernels read the skip flag (u32 [1]; any non-zero value leaves param and state
 * untouched) and, when `p.maxNorm > 0`, the global norm to apply torch's `clip_grad_norm_` factor.
 *
 * Variants (static): `vec4` (4 elements per thread; size % 4 == 0) and `scaled`: the stored parameter is
 * W' = W·s with a per-column scale s (a conv with a frozen batch norm folded in), its gradient is taken
 * w.r.t. W', and the update is done on W = W'/s with g_W = s·g' so that param and state follow torch's.
 * Non-finite checks test the exponent bits (compilers may assume floats are finite).
 * @module
 */
import { LINEAR_INDEX_WGSL, MAIN_1D_ARGS, WORKGROUP_1D } from "./common.wgsl.ts";

/** Static variant of an update kernel. */
export interface UpdateVariant {
  /** Four elements per invocation (the tensor size is a multiple of 4, and so is `cols` when scaled). */
  vec4: boolean;
  /** Per-column scale binding (folded batch norm). */
  scaled: boolean;
}

/** Elements per workgroup of the first norm stage (256 threads × 64). */
export const NORM_CHUNK = WORKGROUP_1D * 64;

function prelude(v: UpdateVariant, fields: string, state: string[]): string {
  const t = v.vec4 ? "vec4f" : "f32";
  const bindings = [
    `@group(0) @binding(1) var<storage, read_write> param: array<${t}>;`,
    `@group(0) @binding(2) var<storage, read> grad: array<${t}>;`,
    ...state.map((s, i) => `@group(0) @binding(${3 + i}) var<storage, read_write> ${s}: array<${t}>;`),
    `@group(0) @binding(${3 + state.length}) var<storage, read> skip: array<u32>;`,
    `@group(0) @binding(${4 + state.length}) var<storage, read> norm: array<f32>;`,
    v.scaled ? `@group(0) @binding(${5 + state.length}) var<storage, read> scale: array<${t}>;` : "",
  ];
  return /* wgsl */ `
struct Params { n: u32, cols: u32, maxNorm: f32, lr: f32, ${fields} }
@group(0) @binding(0) var<uniform> p: Params;
${bindings.join("\n")}
${LINEAR_INDEX_WGSL}
fn clipFactor() -> f32 {
  if (p.maxNorm <= 0.0) { return 1.0; }
  return min(1.0, p.maxNorm / (norm[0] + 1e-6));
}`;
}

/** Loads W (param / s when scaled) and g_W (grad · s, times the clip factor) for element i. */
function loads(v: UpdateVariant): string {
  return v.scaled
    ? `let s = scale[i % p.cols];
  var w = param[i] / s;
  let g = (grad[i] * s) * clipFactor();`
    : `var w = param[i];
  let g = grad[i] * clipFactor();`;
}

const STORE = (v: UpdateVariant) => v.scaled ? "param[i] = w * s;" : "param[i] = w;";

/**
 * torch.optim.SGD (dampening 0, no Nesterov) on one tensor; the momentum buffer starts at 0, so the first
 * step gives buf = 0·m + g = g exactly as torch's clone.
 *
 * @example
 * ```ts
 * import { sgdWgsl } from "./optimizer.wgsl.ts";
 * console.log(sgdWgsl({ vec4: true, scaled: false }).includes("momentum"));
 * ```
 */
export function sgdWgsl(v: UpdateVariant): string {
  return prelude(v, "momentum: f32, weightDecay: f32", ["buf"]) + /* wgsl */ `
@compute @workgroup_size(${WORKGROUP_1D})
fn main(${MAIN_1D_ARGS}) {
  let i = linearIndex(wid, lid, nwg);
  if (i >= p.n || skip[0] != 0u) { return; }
  ${loads(v)}
  let d = g + p.weightDecay * w;
  let b = buf[i] * p.momentum + d;
  buf[i] = b;
  w = w + (-p.lr) * b;
  ${STORE(v)}
}
`;
}

/**
 * torch.optim.AdamW (no amsgrad) on one tensor. `decay` = 1 − lr·wd, `oneMinusBeta1/2`, `stepSize` =
 * lr / (1 − β1^t) and `bc2Sqrt` = √(1 − β2^t) are computed on the CPU in double precision, like torch.
 *
 * @example
 * ```ts
 * import { adamwWgsl } from "./optimizer.wgsl.ts";
 * console.log(adamwWgsl({ vec4: false, scaled: true }).includes("exp_avg_sq"));
 * ```
 */
export function adamwWgsl(v: UpdateVariant): string {
  const fields = "decay: f32, beta1: f32, beta2: f32, oneMinusBeta1: f32, oneMinusBeta2: f32, " +
    "stepSize: f32, bc2Sqrt: f32, eps: f32";
  return prelude(v, fields, ["exp_avg", "exp_avg_sq"]) + /* wgsl */ `
@compute @workgroup_size(${WORKGROUP_1D})
fn main(${MAIN_1D_ARGS}) {
  let i = linearIndex(wid, lid, nwg);
  if (i >= p.n || skip[0] != 0u) { return; }
  ${loads(v)}
  w = w * p.decay;
  let m = exp_avg[i] * p.beta1 + p.oneMinusBeta1 * g;
  let q = exp_avg_sq[i] * p.beta2 + (p.oneMinusBeta2 * g) * g;
  exp_avg[i] = m;
  exp_avg_sq[i] = q;
  let denom = sqrt(q) / p.bc2Sqrt + p.eps;
  w = w + (-p.stepSize) * (m / denom);
  ${STORE(v)}
}
`;
}

/**
 * Norm stage 1: the sum of squares of `NORM_CHUNK` gradient elements per workgroup (times the column
 * scale when `scaled`), written to `partials[p.offset + workgroup]`. `p.n` and `p.cols` count elements of
 * the bound type (vec4 or f32); each thread reads `NORM_CHUNK / 256` values, coalesced.
 *
 * @example
 * ```ts
 * import { sumSquaresWgsl } from "./optimizer.wgsl.ts";
 * console.log(sumSquaresWgsl({ vec4: true, scaled: false }).includes("partials"));
 * ```
 */
export function sumSquaresWgsl(v: UpdateVariant): string {
  const t = v.vec4 ? "vec4f" : "f32";
  const iters = NORM_CHUNK / WORKGROUP_1D / (v.vec4 ? 4 : 1);
  return /* wgsl */ `
struct Params { n: u32, offset: u32, cols: u32, _pad: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> grad: array<${t}>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;
${v.scaled ? `@group(0) @binding(3) var<storage, read> scale: array<${t}>;` : ""}
var<workgroup> acc: array<f32, ${WORKGROUP_1D}>;

@compute @workgroup_size(${WORKGROUP_1D})
fn main(${MAIN_1D_ARGS}) {
  let group = wid.y * nwg.x + wid.x;
  let begin = group * ${iters * WORKGROUP_1D}u;
  var s = 0.0;
  for (var k = 0u; k < ${iters}u; k++) {
    let i = begin + k * ${WORKGROUP_1D}u + lid.x;
    if (i < p.n) {
      let g = grad[i]${v.scaled ? " * scale[i % p.cols]" : ""};
      s += ${v.vec4 ? "dot(g, g)" : "g * g"};
    }
  }
  acc[lid.x] = s;
  workgroupBarrier();
  for (var stride = ${WORKGROUP_1D / 2}u; stride > 0u; stride = stride / 2u) {
    if (lid.x < stride) { acc[lid.x] += acc[lid.x + stride]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) { partials[p.offset + group] = acc[0]; }
}
`;
}

const IS_NON_FINITE = /* wgsl */ `
fn nonFinite(x: f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u; }
`;

/**
 * Norm stage 2 (one workgroup): norm[0] = √Σ partials; a non-finite norm ORs bit 31 into `flag[0]`.
 *
 * @example
 * ```ts
 * import { GRAD_NORM_WGSL } from "./optimizer.wgsl.ts";
 * console.log(GRAD_NORM_WGSL.includes("sqrt"));
 * ```
 */
export const GRAD_NORM_WGSL = /* wgsl */ `
struct Params { count: u32, _a: u32, _b: u32, _c: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> norm: array<f32>;
@group(0) @binding(3) var<storage, read_write> flag: array<u32>;
var<workgroup> acc: array<f32, ${WORKGROUP_1D}>;
${IS_NON_FINITE}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(@builtin(local_invocation_id) lid: vec3u) {
  var s = 0.0;
  for (var i = lid.x; i < p.count; i += ${WORKGROUP_1D}u) { s += partials[i]; }
  acc[lid.x] = s;
  workgroupBarrier();
  for (var stride = ${WORKGROUP_1D / 2}u; stride > 0u; stride = stride / 2u) {
    if (lid.x < stride) { acc[lid.x] += acc[lid.x + stride]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) {
    let total = sqrt(acc[0]);
    norm[0] = total;
    if (nonFinite(total)) { flag[0] = flag[0] | 0x80000000u; }
  }
}
`;

/**
 * ORs into `flag[0]` bit min(index, 30) for each non-finite element of `x` (per-element mode,
 * `p.bit == 0xffffffff`) or bit `p.bit` if any element is non-finite (one tensor of a list).
 *
 * @example
 * ```ts
 * import { FLAG_NON_FINITE_WGSL } from "./optimizer.wgsl.ts";
 * console.log(FLAG_NON_FINITE_WGSL.includes("atomicOr"));
 * ```
 */
export const FLAG_NON_FINITE_WGSL = /* wgsl */ `
struct Params { n: u32, bit: u32, _a: u32, _b: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> flag: array<u32>;
var<workgroup> mask: atomic<u32>;
${IS_NON_FINITE}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(@builtin(local_invocation_id) lid: vec3u) {
  if (lid.x == 0u) { atomicStore(&mask, 0u); }
  workgroupBarrier();
  var m = 0u;
  for (var i = lid.x; i < p.n; i += ${WORKGROUP_1D}u) {
    if (nonFinite(x[i])) { m = m | (1u << select(min(i, 30u), p.bit, p.bit != 0xffffffffu)); }
  }
  if (m != 0u) { atomicOr(&mask, m); }
  workgroupBarrier();
  if (lid.x == 0u) { flag[0] = flag[0] | atomicLoad(&mask); }
}
`;
