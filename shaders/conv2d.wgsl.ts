/**
 * WGSL of the implicit-GEMM convolution shared by conv2d, linear and conv_transpose2d.
 *
 * GEMM view: M = N·Ho·Wo output pixels (rows), columns = output channels, K = kh·kw·Cin. The weights are
 * packed once as `[K, cols4]` vec4 (zero-padded to a multiple of 4 columns), so a weight row is `cols4`
 * vec4 loads along the output channels. Activations are NHWC, so the K run of one pixel at one tap is `Cin`
 * contiguous floats: with Cin % 4 == 0 the A operand is read as vec4 along Cin, otherwise as scalars.
 *
 * Register blocking: one invocation owns TM rows × TN4 vec4 columns (TM·TN4 vec4 accumulators, unrolled as
 * named variables). Its rows are strided by the workgroup height (adjacent invocations read adjacent
 * pixels), its columns strided by the workgroup width. The tap loop (ky, kx) computes each row's input
 * offset and padding validity once, then the channel loop runs pure vec4 loads and FMAs. No workgroup
 * memory and no barriers (see ops/conv2d.ts for the measured variants and why).
 *
 * Runtime sizes are params; the only source variants are the input/output vector widths, the fused
 * epilogue flags (bias, residual, ReLU) and the store layout (conv NHWC or 2×2-stride-2 transpose scatter).
 * @module
 */

/** Register/workgroup tile of the GEMM kernel. */
export interface GemmTile {
  /** Rows (output pixels) per invocation. */
  tm: number;
  /** vec4 columns (4 output channels each) per invocation. */
  tn4: number;
  /** Workgroup width (along columns). */
  wx: number;
  /** Workgroup height (along rows). */
  wy: number;
  /**
   * Share the A operand through subgroup broadcasts (the device's `subgroups` feature; set only where the
   * subgroup is exactly the `wx` lanes of one workgroup row, i.e. `lanes == wx` == the fixed subgroup size):
   * per block of `lanes` vec4 channel steps each lane loads a different vec4 of A per row and every lane
   * takes step j's from lane j ({@link gemmChannelLoopWgsl}).
   */
  lanes?: number;
}

/** Source variants of {@link implicitGemmWgsl}. */
export interface ImplicitGemmOptions {
  tile: GemmTile;
  /** Cin % 4 == 0: read activations as vec4 along Cin. */
  vecIn: boolean;
  /** Output channels % 4 == 0: store vec4. */
  vecOut: boolean;
  bias: boolean;
  residual: boolean;
  relu: boolean;
  /**
   * Bias, residual and ReLU chosen per dispatch by the params' `flags` ({@link GEMM_FLAGS}) instead of
   * compiled in: both optional bindings are always declared and `bias` / `residual` / `relu` are ignored.
   * One kernel then serves every epilogue (lavapipe compiles each unrolled GEMM variant for 5–25 s).
   */
  runtimeEpilogue?: boolean;
  /** The output layout ({@link CONV_STORE}, or the transposed conv's scatter). */
  store: StoreLayout;
  /**
   * Read the packed weights through `textureLoad` from an rgba32float texture (width cols4, height K)
   * bound at 2 instead of a storage buffer (lavapipe fetches texels with vector code; its storage loads
   * are a per-lane loop with a bounds check each).
   */
  texB?: boolean;
}

/** The params block every variant reads (16 u32 words; `flags`: {@link GEMM_FLAGS}). */
export const GEMM_PARAMS_WGSL = /* wgsl */ `
struct Params {
  batch: u32, h: u32, w: u32, cin: u32,
  ho: u32, wo: u32, cols: u32, cols4: u32,
  kh: u32, kw: u32, stride: u32, pad: u32,
  m: u32, cinv: u32, cout: u32, flags: u32,
}`;

/**
 * Bits of the params' `flags` word read by a runtime epilogue ({@link ImplicitGemmOptions.runtimeEpilogue}).
 *
 * @example
 * ```ts
 * import { GEMM_FLAGS } from "./conv2d.wgsl.ts";
 * console.log(GEMM_FLAGS.bias | GEMM_FLAGS.relu); // 5
 * ```
 */
export const GEMM_FLAGS = { bias: 1, residual: 2, relu: 4 } as const;

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/**
 * Where the GEMM result goes: WGSL `fn outIndex(m: u32, c: u32) -> u32`, the output element index of row
 * `m`, scalar column `c` (vec4 stores use `outIndex(m, 4·c4) / 4`, so 4 consecutive columns must be
 * contiguous when the output is vec4).
 */
export interface StoreLayout {
  /** Name in the pipeline key. */
  name: string;
  /** The WGSL function. */
  wgsl: string;
}

/**
 * The convolution / linear store: row-major `[M, cols]`, i.e. NHWC `[N, Ho, Wo, Cout]`.
 *
 * @example
 * ```ts
 * import { CONV_STORE } from "./conv2d.wgsl.ts";
 * console.log(CONV_STORE.wgsl.includes("fn outIndex"));
 * ```
 */
export const CONV_STORE: StoreLayout = {
  name: "conv",
  wgsl: /* wgsl */ `fn outIndex(m: u32, c: u32) -> u32 { return m * p.cols + c; }`,
};

/**
 * The epilogue's bindings from 3 on: `bias` (vec4, padded) and `res` when enabled, then `out` (vec4 or
 * scalar). Shared by the direct kernel and the tiled one (shaders/conv2d_tiled.wgsl.ts).
 *
 * @example
 * ```ts
 * import { gemmOutputBindingsWgsl } from "./conv2d.wgsl.ts";
 * console.log(gemmOutputBindingsWgsl({ bias: false, residual: true, vecOut: true }).includes("@binding(4)"));
 * ```
 */
export function gemmOutputBindingsWgsl(
  o: { bias: boolean; residual: boolean; vecOut: boolean; runtimeEpilogue?: boolean },
): string {
  const outT = o.vecOut ? "vec4f" : "f32";
  let binding = 3;
  const biasDecl = o.bias || o.runtimeEpilogue
    ? `@group(0) @binding(${binding++}) var<storage, read> bias: array<vec4f>;`
    : "";
  const resDecl = o.residual || o.runtimeEpilogue
    ? `@group(0) @binding(${binding++}) var<storage, read> res: array<${outT}>;`
    : "";
  const outDecl = `@group(0) @binding(${binding}) var<storage, read_write> out: array<${outT}>;`;
  return `${biasDecl}\n${resDecl}\n${outDecl}`;
}

/**
 * The GEMM store for the register tile `acc{r}_{t}`: bias (indexed by the clamped `col{t}`), optional
 * residual and ReLU, written at output column `outCol(t)` (a vec4 column index) when inside the output.
 * Shared by the direct kernel and the workgroup-memory tiled one (shaders/conv2d_tiled.wgsl.ts).
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { gemmEpilogueWgsl } from "./conv2d.wgsl.ts";
 * const wgsl = gemmEpilogueWgsl({ bias: true, residual: false, relu: true, vecOut: true }, [0], [0], (t) => `c${t}`);
 * assert.ok(wgsl.includes("acc0_0 + bias[col0]") && wgsl.includes("outIndex(row0, c0 * 4u)"));
 * ```
 */
export function gemmEpilogueWgsl(
  o: { bias: boolean; residual: boolean; relu: boolean; vecOut: boolean; runtimeEpilogue?: boolean },
  R: readonly number[],
  T: readonly number[],
  outCol: (t: number) => string,
): string {
  const rt = o.runtimeEpilogue === true;
  const when = (flag: keyof typeof GEMM_FLAGS, line: string) =>
    rt ? `if ((p.flags & ${GEMM_FLAGS[flag]}u) != 0u) { ${line.trim()} }` : line.trim();
  return R.map((r) =>
    T.map((t) => {
      const v = `acc${r}_${t}`;
      const lines = [`  if (row${r} < p.m && ${outCol(t)} < p.cols4) {`];
      lines.push(`    var v = ${v}${o.bias && !rt ? ` + bias[col${t}]` : ""};`);
      if (rt) lines.push(`    ${when("bias", `v += bias[col${t}];`)}`);
      if (o.vecOut) {
        lines.push(`    let oi = outIndex(row${r}, ${outCol(t)} * 4u) / 4u;`);
        if (o.residual || rt) lines.push(`    ${when("residual", "v += res[oi];")}`);
        if (o.relu || rt) lines.push(`    ${when("relu", "v = max(v, vec4f(0.0));")}`);
        lines.push(`    out[oi] = v;`);
      } else {
        lines.push(`    for (var i = 0u; i < 4u; i++) {`);
        lines.push(`      let c = ${outCol(t)} * 4u + i;`);
        lines.push(`      if (c < p.cols) {`);
        lines.push(`        let oi = outIndex(row${r}, c);`);
        lines.push(`        var s = v[i];`);
        if (o.residual || rt) lines.push(`        ${when("residual", "s += res[oi];")}`);
        if (o.relu || rt) lines.push(`        ${when("relu", "s = max(s, 0.0);")}`);
        lines.push(`        out[oi] = s;`, `      }`, `    }`);
      }
      lines.push(`  }`);
      return lines.join("\n");
    }).join("\n")
  ).join("\n");
}

/**
 * WGSL `fn loadB(k, c) -> vec4f`: row `k`, vec4 column `c` of the packed B operand `name` (`[K, cols4]`
 * vec4) bound at 2, a storage buffer or, with `texture`, an rgba32float texture (width cols4, height K).
 * Shared by the forward kernel and the input gradient (shaders/conv2d_backward.wgsl.ts).
 *
 * @example
 * ```ts
 * import { gemmLoadBWgsl } from "./conv2d.wgsl.ts";
 * console.log(gemmLoadBWgsl("w", true).includes("textureLoad(w"));
 * ```
 */
export function gemmLoadBWgsl(name: string, texture: boolean | undefined): string {
  return texture
    ? `@group(0) @binding(2) var ${name}: texture_2d<f32>;
fn loadB(k: u32, c: u32) -> vec4f { return textureLoad(${name}, vec2u(c, k), 0); }`
    : `@group(0) @binding(2) var<storage, read> ${name}: array<vec4f>;
fn loadB(k: u32, c: u32) -> vec4f { return ${name}[k * p.cols4 + c]; }`;
}

/**
 * An invocation's register tile: per vec4 column t, `colRaw{t}` (its output column), `col{t}` (clamped for
 * loads) and the zeroed accumulators `acc{r}_{t}` of rows r. Shared with shaders/conv2d_backward.wgsl.ts.
 *
 * @example
 * ```ts
 * import { gemmAccumulatorsWgsl } from "./conv2d.wgsl.ts";
 * console.log(gemmAccumulatorsWgsl({ tm: 2, tn4: 1, wx: 8, wy: 8 }).includes("var acc0_0 = vec4f(0.0);"));
 * ```
 */
export function gemmAccumulatorsWgsl(tile: GemmTile): string {
  const R = range(tile.tm);
  return range(tile.tn4).map((t) =>
    `  let colRaw${t} = wid.x * ${tile.tn4 * tile.wx}u + ${t * tile.wx}u + lid.x;
  let col${t} = min(colRaw${t}, p.cols4 - 1u);
  var ${R.map((r) => `acc${r}_${t}`).join(" = vec4f(0.0);\n  var ")} = vec4f(0.0);`
  ).join("\n");
}

/**
 * The channel loop of one kernel tap, the GEMM's inner K run: for `c` below `count` (vec4 or scalar
 * channel steps), A values `a{r}` = `a[base{r} + c]` (zero where `!ok{r}`) and B rows `loadB(wk + …)`, then
 * `acc{r}_{t} = fma(a, b, acc)` in (B row, r, t) order; vec4 A reads 4 B rows per step. The one home of
 * the loop that the forward kernel and the input gradient (shaders/conv2d_backward.wgsl.ts) run.
 *
 * With `tile.lanes` (vec4 A only) the steps go in blocks of `lanes`: lane `lid.x` loads step `c + lid.x` of
 * each row (one per-lane load fetches `lanes` different vec4s instead of `lanes` copies of one), the block's
 * B rows are loaded first (on lavapipe every texel fetch is a call that spills the live registers, so one
 * group of calls per block), then step j's A comes from lane j through `subgroupBroadcast`; the steps past
 * the last whole block run the plain loop. The sums are the same products added in the same order.
 *
 * @example
 * ```ts
 * import { gemmChannelLoopWgsl } from "./conv2d.wgsl.ts";
 * const wgsl = gemmChannelLoopWgsl({ tm: 1, tn4: 1, wx: 8, wy: 8 }, { vecIn: false, a: "x", count: "p.cin", indent: 6 });
 * console.log(wgsl.includes("acc0_0 = fma(vec4f(a0), b0, acc0_0);"));
 * ```
 */
export function gemmChannelLoopWgsl(
  tile: GemmTile,
  o: { vecIn: boolean; a: string; count: string; indent: number },
): string {
  const R = range(tile.tm);
  const T = range(tile.tn4);
  const pad = " ".repeat(o.indent);
  const zeroA = o.vecIn ? "vec4f(0.0)" : "0.0";
  const loads = R.map((r) => `${pad}let a${r} = select(${zeroA}, ${o.a}[base${r} + c], ok${r});`).join("\n");
  if (o.vecIn && tile.lanes) {
    const S = tile.lanes;
    const J = range(S);
    const Q = range(4);
    const block = [
      ...R.map((r) => `${pad}let al${r} = select(vec4f(0.0), ${o.a}[base${r} + c + lid.x], ok${r});`),
      ...J.flatMap((j) =>
        Q.flatMap((q) =>
          T.map((t) => `${pad}let b${j}_${q}_${t} = loadB(wk + 4u * c + ${4 * j + q}u, col${t});`)
        )
      ),
      ...J.flatMap((j) => [
        ...R.map((r) => `${pad}let a${r}_${j} = subgroupBroadcast(al${r}, ${j}u);`),
        ...Q.flatMap((q) =>
          R.flatMap((r) =>
            T.map((t) => `${pad}acc${r}_${t} = fma(vec4f(a${r}_${j}[${q}]), b${j}_${q}_${t}, acc${r}_${t});`)
          )
        ),
      ]),
    ].join("\n");
    const plain = gemmChannelLoopWgsl({ ...tile, lanes: undefined }, o).replace(
      "for (var c = 0u;",
      "for (;",
    );
    return `var c = 0u;
${pad.slice(2)}for (; c + ${S}u <= ${o.count}; c += ${S}u) {
${block}
${pad.slice(2)}}
${pad.slice(2)}${plain}`;
  }
  if (o.vecIn) {
    return `for (var c = 0u; c < ${o.count}; c++) {
${pad}let k0 = wk + 4u * c;
${loads}
${
      range(4).map((j) =>
        T.map((t) => `${pad}let b${j}_${t} = loadB(k0 + ${j}u, col${t});`).join("\n") + "\n" +
        R.map((r) =>
          T.map((t) => `${pad}acc${r}_${t} = fma(vec4f(a${r}[${j}]), b${j}_${t}, acc${r}_${t});`).join("\n")
        ).join("\n")
      ).join("\n")
    }
${pad.slice(2)}}`;
  }
  return `for (var c = 0u; c < ${o.count}; c++) {
${pad}let k0 = wk + c;
${loads}
${T.map((t) => `${pad}let b${t} = loadB(k0, col${t});`).join("\n")}
${
    R.map((r) => T.map((t) => `${pad}acc${r}_${t} = fma(vec4f(a${r}), b${t}, acc${r}_${t});`).join("\n"))
      .join("\n")
  }
${pad.slice(2)}}`;
}

/**
 * The implicit-GEMM kernel source for one variant. Bindings: 1 x, 2 w (packed `[K, cols4]` vec4),
 * then bias (vec4, padded) and residual when enabled, then out.
 *
 * @example
 * ```ts
 * import { CONV_STORE, implicitGemmWgsl } from "./conv2d.wgsl.ts";
 * const src = implicitGemmWgsl({ tile: { tm: 4, tn4: 4, wx: 1, wy: 64 }, vecIn: true, vecOut: true,
 *   bias: true, residual: false, relu: true, store: CONV_STORE });
 * console.log(src.includes("@workgroup_size(1, 64)"));
 * ```
 */
export function implicitGemmWgsl(o: ImplicitGemmOptions): string {
  const { tm, tn4, wx, wy } = o.tile;
  const R = range(tm);
  const T = range(tn4);
  const inT = o.vecIn ? "vec4f" : "f32";
  const wDecl = gemmLoadBWgsl("w", o.texB);
  // Inner K step: vec4 input → 4 weight rows per load of A; scalar input → 1 weight row.
  const inner = gemmChannelLoopWgsl(o.tile, {
    vecIn: o.vecIn,
    a: "x",
    count: o.vecIn ? "p.cinv" : "p.cin",
    indent: 6,
  });
  const epilogue = gemmEpilogueWgsl(o, R, T, (t) => `colRaw${t}`);
  return /* wgsl */ `
${GEMM_PARAMS_WGSL}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<${inT}>;
${wDecl}
${gemmOutputBindingsWgsl(o)}
${o.store.wgsl}

@compute @workgroup_size(${wx}, ${wy})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(num_workgroups) nwg: vec3u) {
  let rowTile = wid.y + wid.z * nwg.y;
  let hwo = p.ho * p.wo;
  let cstride = select(p.cin, p.cinv, ${o.vecIn});
${
    R.map((r) =>
      `  let row${r} = rowTile * ${tm * wy}u + lid.y + ${r * wy}u;
  let m${r} = min(row${r}, p.m - 1u);
  let n${r} = m${r} / hwo; let q${r} = m${r} - n${r} * hwo; let oy${r} = q${r} / p.wo; let ox${r} = q${r} - oy${r} * p.wo;
  let iy${r} = i32(oy${r} * p.stride) - i32(p.pad); let ix${r} = i32(ox${r} * p.stride) - i32(p.pad);
  let nh${r} = n${r} * p.h;`
    ).join("\n")
  }
${gemmAccumulatorsWgsl(o.tile)}
  for (var ky = 0u; ky < p.kh; ky++) {
    for (var kx = 0u; kx < p.kw; kx++) {
      let wk = (ky * p.kw + kx) * p.cin;
${
    R.map((r) =>
      `      let y${r} = iy${r} + i32(ky); let x${r} = ix${r} + i32(kx);
      let ok${r} = y${r} >= 0 && y${r} < i32(p.h) && x${r} >= 0 && x${r} < i32(p.w);
      let base${r} = select(0u, ((nh${r} + u32(y${r})) * p.w + u32(x${r})) * cstride, ok${r});`
    ).join("\n")
  }
      ${inner}
    }
  }
${epilogue}
}
`;
}
