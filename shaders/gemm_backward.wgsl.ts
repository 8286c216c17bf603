/**
 * WGSL of the parameter gradients of the implicit-GEMM ops (conv2d, linear, conv_transpose2d).
 *
 * Weight gradient: dW[k, c] = Σ_m A[m, k] · G[m, c], the GEMM Aᵀ·G reduced over the forward's M rows
 * (N·Ho·Wo pixels: up to ~10⁵), where A = im2col(x) is gathered on the fly (k = (ky, kx, ci), as in
 * shaders/conv2d.wgsl.ts) and G (the gradient of the GEMM output) is read through the forward's store
 * layout `outIndex(m, c)` (plain NHWC, or the 2×2 transposed conv's scatter). Split-K: grid z cuts M into
 * `nsplit` chunks of `chunk` consecutive rows; each invocation owns TM k-groups (4 consecutive k read as one
 * vec4 of x when Cin % 4 == 0, else single k) × TN4 vec4 columns and walks its chunk with incremental
 * (n, oy, ox) counters (no divisions in the loop). With one chunk it adds straight into the gradient
 * (`direct`); otherwise it writes partials `[nsplit, K, cols4]` that {@link WGRAD_REDUCE_WGSL} sums in
 * fixed order into the gradient: deterministic for a given split, no atomics.
 *
 * With `tile.lanes` (the subgroup size, = the workgroup width) the rows go in blocks of `lanes`: lane l
 * gathers the A values of row m + l (its own (n, oy, ox) from the block's counters), and row m + j's reach
 * every lane through `subgroupBroadcast` from lane j, so a per-lane load fetches `lanes` different rows
 * instead of `lanes` copies of one (lavapipe scalarizes storage loads per lane); the rows past the last whole
 * block run the plain loop. Same products summed in the same order: bit-identical to the plain kernel.
 *
 * Bias gradient: column sums of G in two deterministic stages ({@link biasPartialWgsl} over row chunks,
 * then {@link BIAS_REDUCE_WGSL}, which also folds the transposed conv's 4 bias copies).
 * @module
 */
import type { GemmTile } from "./conv2d.wgsl.ts";
import { LINEAR_INDEX_WGSL, MAIN_1D_ARGS } from "./common.wgsl.ts";

/** The params of every kernel here: the forward GEMM's 16 words (same names) and the split sizes. */
export const WGRAD_PARAMS_WGSL = /* wgsl */ `
struct Params {
  batch: u32, h: u32, w: u32, cin: u32,
  ho: u32, wo: u32, cols: u32, cols4: u32,
  kh: u32, kw: u32, stride: u32, pad: u32,
  m: u32, cinv: u32, cout: u32, krows: u32,
  kgroups: u32, chunk: u32, nsplit: u32, repeats: u32,
  slotRows: u32,
}
@group(0) @binding(0) var<uniform> p: Params;`;

/**
 * Row limit (the \`rowLimit\` variants): only the first \`rowLimit[0]\` slots (RoIs) of the batch hold real
 * rows, \`p.slotRows\` GEMM rows each; the reductions stop there (the rows after it are never read).
 */
function rowEnd(rowLimit: boolean): string {
  return rowLimit ? "min(p.m, rowLimit[0] * p.slotRows)" : "p.m";
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** Source variants of {@link wgradWgsl}. */
export interface WgradOptions {
  /** tm = k-groups per invocation, tn4 = vec4 columns per invocation. */
  tile: GemmTile;
  /** Cin % 4 == 0: a k-group is 4 consecutive k (one vec4 of x). */
  vecX: boolean;
  /** G read as vec4 (columns % 4 == 0 and 4 columns contiguous in the layout). */
  vecG: boolean;
  /** One chunk: add into the gradient instead of writing partials. */
  direct: boolean;
  /** The forward's store layout (`fn outIndex(m, c)`), used here to read G. */
  layout: { name: string; wgsl: string };
  /** Reduce only over the occupied slots counted in binding 4 `rowLimit` (see `rowEnd`). */
  rowLimit?: boolean;
}

/** `fn loadG(m, c4) -> vec4f`: 4 columns of G's row m (zero past `p.cols`). */
function loadGWgsl(vecG: boolean): string {
  return vecG ? `fn loadG(m: u32, c4: u32) -> vec4f { return g[outIndex(m, 4u * c4) / 4u]; }` : `
fn loadG(m: u32, c4: u32) -> vec4f {
  var v = vec4f(0.0);
  for (var i = 0u; i < 4u; i++) {
    let c = 4u * c4 + i;
    if (c < p.cols) { v[i] = g[outIndex(m, c)]; }
  }
  return v;
}`;
}

/**
 * The split-K weight-gradient kernel. Bindings: 1 x (NHWC), 2 g (the output gradient), 3 out (the
 * gradient `[K, cols4]` vec4 when `direct`, else the partials `[nsplit, K, cols4]`).
 *
 * @example
 * ```ts
 * import { CONV_STORE } from "./conv2d.wgsl.ts";
 * import { wgradWgsl } from "./gemm_backward.wgsl.ts";
 * const src = wgradWgsl({ tile: { tm: 2, tn4: 4, wx: 8, wy: 8 }, vecX: true, vecG: true, direct: false,
 *   layout: CONV_STORE });
 * console.log(src.includes("p.chunk"));
 * ```
 */
export function wgradWgsl(o: WgradOptions): string {
  const { tm, tn4, wx, wy } = o.tile;
  const R = range(tm);
  const T = range(tn4);
  const J = o.vecX ? range(4) : [0];
  const acc = (r: number, j: number, t: number) => `acc${r}_${j}_${t}`;
  const fmasOf = (a: (r: number) => string, b: (t: number) => string) =>
    R.map((r) =>
      J.map((j) =>
        T.map((t) =>
          `      ${acc(r, j, t)} = fma(vec4f(${a(r)}${o.vecX ? `[${j}]` : ""}), ${b(t)}, ${acc(r, j, t)});`
        )
          .join("\n")
      ).join("\n")
    ).join("\n");
  const fmas = fmasOf((r) => `a${r}`, (t) => `b${t}`);
  const zeroA = o.vecX ? "vec4f(0.0)" : "0.0";
  const loadA = (r: number, v: { iy: string; ix: string; nh: string }, name: string) =>
    `    let y${r}${name} = ${v.iy} + dy${r}; let x${r}${name} = ${v.ix} + dx${r};
    let ok${r}${name} = y${r}${name} >= 0 && y${r}${name} < i32(p.h) && x${r}${name} >= 0 && x${r}${name} < i32(p.w);
    let a${r}${name} = select(${zeroA}, x[select(0u, ((${v.nh} + u32(y${r}${name})) * p.w + u32(x${r}${name})) * cper + ci${r}, ok${r}${name})], ok${r}${name});`;
  const S = o.tile.lanes ?? 0;
  // Subgroup blocks (tile.lanes): lane l loads A of row m + l; step j takes lane j's through a broadcast.
  const blocks = S
    ? `  for (; m + ${S}u <= m1; m += ${S}u) {
    var lox = ox + lid.x; var loy = oy; var ln = n;
    while (lox >= p.wo) { lox -= p.wo; loy++; if (loy == p.ho) { loy = 0u; ln++; } }
    let liy = i32(loy * p.stride); let lix = i32(lox * p.stride); let lnh = ln * p.h;
${R.map((r) => loadA(r, { iy: "liy", ix: "lix", nh: "lnh" }, "l")).join("\n")}
${
      range(S).map((j) =>
        R.map((r) => `    let a${r}_${j} = subgroupBroadcast(a${r}l, ${j}u);`).join("\n") + "\n" +
        T.map((t) => `    let b${t}_${j} = loadG(m + ${j}u, col${t});`).join("\n") + "\n" +
        fmasOf((r) => `a${r}_${j}`, (t) => `b${t}_${j}`)
      ).join("\n")
    }
    ox += ${S}u;
    while (ox >= p.wo) { ox -= p.wo; oy++; if (oy == p.ho) { oy = 0u; n++; } }
  }
`
    : "";
  const store = R.map((r) =>
    J.map((j) =>
      T.map((t) => {
        const k = o.vecX ? `4u * kg${r} + ${j}u` : `kg${r}`;
        const idx = `(${k}) * p.cols4 + colRaw${t}`;
        const body = o.direct ? `out[${idx}] += ${acc(r, j, t)};` : `out[base + ${idx}] = ${acc(r, j, t)};`;
        return `  if (kg${r} < p.kgroups && colRaw${t} < p.cols4) { ${body} }`;
      }).join("\n")
    ).join("\n")
  ).join("\n");
  return /* wgsl */ `
${WGRAD_PARAMS_WGSL}
@group(0) @binding(1) var<storage, read> x: array<${o.vecX ? "vec4f" : "f32"}>;
@group(0) @binding(2) var<storage, read> g: array<${o.vecG ? "vec4f" : "f32"}>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4f>;
${o.rowLimit ? "@group(0) @binding(4) var<storage, read> rowLimit: array<u32>;" : ""}
${o.layout.wgsl}
${loadGWgsl(o.vecG)}

@compute @workgroup_size(${wx}, ${wy})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let cper = select(p.cin, p.cinv, ${o.vecX});
${
    R.map((r) =>
      `  let kg${r} = wid.y * ${tm * wy}u + lid.y + ${r * wy}u;
  let kc${r} = min(kg${r}, p.kgroups - 1u);
  let tap${r} = kc${r} / cper; let ci${r} = kc${r} - tap${r} * cper;
  let ky${r} = tap${r} / p.kw; let kx${r} = tap${r} - ky${r} * p.kw;
  let dy${r} = i32(ky${r}) - i32(p.pad); let dx${r} = i32(kx${r}) - i32(p.pad);`
    ).join("\n")
  }
${
    T.map((t) =>
      `  let colRaw${t} = wid.x * ${tn4 * wx}u + ${t * wx}u + lid.x;
  let col${t} = min(colRaw${t}, p.cols4 - 1u);`
    ).join("\n")
  }
  var ${
    R.flatMap((r) => J.flatMap((j) => T.map((t) => acc(r, j, t)))).join(" = vec4f(0.0);\n  var ")
  } = vec4f(0.0);
  let m0 = wid.z * p.chunk;
  let m1 = min(m0 + p.chunk, ${rowEnd(o.rowLimit ?? false)});
  let hwo = p.ho * p.wo;
  var n = m0 / hwo;
  var oy = (m0 - n * hwo) / p.wo;
  var ox = m0 - n * hwo - oy * p.wo;
  var m = m0;
${blocks}  for (; m < m1; m++) {
    let iy = i32(oy * p.stride); let ix = i32(ox * p.stride); let nh = n * p.h;
${R.map((r) => loadA(r, { iy: "iy", ix: "ix", nh: "nh" }, "")).join("\n")}
${T.map((t) => `    let b${t} = loadG(m, col${t});`).join("\n")}
${fmas}
    ox++;
    if (ox == p.wo) { ox = 0u; oy++; if (oy == p.ho) { oy = 0u; n++; } }
  }
  let base = wid.z * p.krows * p.cols4;
${store}
}
`;
}

/**
 * Stage 2 of the split weight gradient: grad[i] += Σ_s partial[s·n + i] (vec4, s in order).
 * Bindings: 1 partial, 2 grad. Params: n (vec4 elements of the gradient), nsplit.
 *
 * @example
 * ```ts
 * import { WGRAD_REDUCE_WGSL } from "./gemm_backward.wgsl.ts";
 * console.log(WGRAD_REDUCE_WGSL.includes("nsplit"));
 * ```
 */
export const WGRAD_REDUCE_WGSL = /* wgsl */ `
struct Params { n: u32, nsplit: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> partial: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> grad: array<vec4f>;
${LINEAR_INDEX_WGSL}
@compute @workgroup_size(256)
fn main(${MAIN_1D_ARGS}) {
  let i = linearIndex(wid, lid, nwg);
  if (i >= p.n) { return; }
  var s = grad[i];
  for (var k = 0u; k < p.nsplit; k++) { s += partial[k * p.n + i]; }
  grad[i] = s;
}`;

/**
 * Stage 1 of the bias gradient: partial[s, c4] = Σ over rows m of chunk s of G[m, 4·c4 ..]. 1-D over
 * (s, c4). Bindings: 1 g, 2 partial `[nsplit, cols4]` vec4.
 *
 * @example
 * ```ts
 * import { CONV_STORE } from "./conv2d.wgsl.ts";
 * import { biasPartialWgsl } from "./gemm_backward.wgsl.ts";
 * console.log(biasPartialWgsl(true, CONV_STORE).includes("loadG"));
 * ```
 */
export function biasPartialWgsl(
  vecG: boolean,
  layout: { name: string; wgsl: string },
  rowLimit = false,
): string {
  return /* wgsl */ `
${WGRAD_PARAMS_WGSL}
@group(0) @binding(1) var<storage, read> g: array<${vecG ? "vec4f" : "f32"}>;
@group(0) @binding(2) var<storage, read_write> partial: array<vec4f>;
${rowLimit ? "@group(0) @binding(3) var<storage, read> rowLimit: array<u32>;" : ""}
${layout.wgsl}
${loadGWgsl(vecG)}
${LINEAR_INDEX_WGSL}
@compute @workgroup_size(256)
fn main(${MAIN_1D_ARGS}) {
  let i = linearIndex(wid, lid, nwg);
  if (i >= p.nsplit * p.cols4) { return; }
  let s = i / p.cols4;
  let c4 = i - s * p.cols4;
  var sum = vec4f(0.0);
  for (var m = s * p.chunk; m < min(s * p.chunk + p.chunk, ${rowEnd(rowLimit)}); m++) { sum += loadG(m, c4); }
  partial[i] = sum;
}`;
}

/**
 * Stage 2 of the bias gradient, per scalar column c < cols: bias[c] += Σ_s Σ_q partial[s, q·cout + c mod
 * cout] over the `repeats` copies q (1 for conv/linear; 4 for the transposed conv, whose packed bias holds
 * each channel once per (dy, dx), so every copy receives the summed gradient). Bindings: 1 partial (f32
 * view), 2 bias.
 *
 * @example
 * ```ts
 * import { BIAS_REDUCE_WGSL } from "./gemm_backward.wgsl.ts";
 * console.log(BIAS_REDUCE_WGSL.includes("repeats"));
 * ```
 */
export const BIAS_REDUCE_WGSL = /* wgsl */ `
${WGRAD_PARAMS_WGSL}
@group(0) @binding(1) var<storage, read> partial: array<f32>;
@group(0) @binding(2) var<storage, read_write> bias: array<f32>;
${LINEAR_INDEX_WGSL}
@compute @workgroup_size(256)
fn main(${MAIN_1D_ARGS}) {
  let c = linearIndex(wid, lid, nwg);
  if (c >= p.cols) { return; }
  let co = c % p.cout;
  var sum = 0.0;
  for (var s = 0u; s < p.nsplit; s++) {
    for (var q = 0u; q < p.repeats; q++) { sum += partial[s * p.cols4 * 4u + q * p.cout + co]; }
  }
  bias[c] += sum;
}`;
