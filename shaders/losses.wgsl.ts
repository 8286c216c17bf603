/**
 * WGSL of the fused loss kernels (forward + gradient in one pass) and their deterministic two-stage
 * reduction; the per-loss element functions live in `loss_elements.wgsl.ts`. Stage 1 (`lossStage1Wgsl`): a fixed grid of at most `LOSS_MAX_GROUPS` workgroups walks the
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

/** What `ops/losses.ts` passes in: a loss's element function (see `loss_elements.wgsl.ts`) and the terms. */
export interface LossStage1Parts {
  /** `name: array<T>` declarations in binding order (`grad...` is read_write). */
  bindings: readonly string[];
  /** Declares `fn element(i: u32) -> f32`. */
  body: string;
  /** WGSL the body needs (`scaled`, `bceTerm`, ...), included when a gradient is written. */
  terms: string;
}

/**
 * Stage 1 of a loss: bindings 1.. the element's inputs and gradient, then `partials`, then `norm`.
 *
 * @example
 * ```ts
 * import { lossStage1Wgsl } from "./losses.wgsl.ts";
 * const body = "fn element(i: u32) -> f32 { return select(0.0, 1.0, m[i] != 0u); }";
 * console.log(lossStage1Wgsl({ bindings: ["m: array<u32>"], body, terms: "" }, "const").includes("partials"));
 * ```
 */
export function lossStage1Wgsl(element: LossStage1Parts, norm: NormKind): string {
  const { bindings, body, terms } = element;
  const decls = bindings.map((b, i) =>
    `@group(0) @binding(${i + 1}) var<storage, ${b.startsWith("grad") ? "read_write" : "read"}> ${b};`
  );
  const k = bindings.length + 1;
  const hasGrad = bindings.some((b) => b.startsWith("grad"));
  return /* wgsl */ `${PARAMS}
${decls.join("\n")}
@group(0) @binding(${k}) var<storage, read_write> partials: array<f32>;
${normWgsl(norm, k + 1)}
${hasGrad ? terms : ""}
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
