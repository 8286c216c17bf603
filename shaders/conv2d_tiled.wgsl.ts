/**
 * WGSL of the implicit-GEMM convolution with workgroup-memory tiling: the kernel for hardware GPUs (the
 * classic shared-memory GEMM: each storage value is read once per workgroup and reused from fast memory by
 * many invocations). Same bindings, params, epilogue and store layouts as the direct register-tiled kernel
 * of shaders/conv2d.wgsl.ts, which lavapipe runs (see ops/conv2d.ts for why).
 * @module
 */
import {
  GEMM_PARAMS_WGSL,
  gemmEpilogueWgsl,
  gemmOutputBindingsWgsl,
  type GemmTile,
  type ImplicitGemmOptions,
} from "./conv2d.wgsl.ts";

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/**
 * Workgroup tile of {@link tiledGemmWgsl}: the register tile plus the K depth
 * staged in workgroup memory per step.
 */
export interface TiledGemmTile extends GemmTile {
  /** K values staged per step (a multiple of 4). */
  bk: number;
}

/** Source variants of {@link tiledGemmWgsl}: the direct kernel's, with a staged tile. */
export interface TiledGemmOptions extends Omit<ImplicitGemmOptions, "tile"> {
  tile: TiledGemmTile;
}

/**
 * The workgroup-memory implicit-GEMM kernel source for one variant: same bindings, params and results as
 * the direct kernel (`implicitGemmWgsl`, same order of float additions along K, so bit-identical output).
 *
 * Workgroup-memory tiling: a workgroup owns `tm·wy` rows × `tn4·wx` vec4 columns. Per K step of `bk`,
 * all its invocations copy the A tile (`tm·wy` rows × `bk/4` vec4, decoded from the NHWC input with zero
 * padding) and the B tile (`bk` rows × `tn4·wx` vec4 of packed weights) from storage into workgroup
 * memory, once each, then every invocation runs `bk·tm·tn4` vec4 FMAs reading only workgroup memory. The
 * per-row pixel decoding (n, iy, ix) is done once per workgroup into workgroup memory.
 *
 * @example
 * ```ts
 * import { CONV_STORE } from "./conv2d.wgsl.ts";
 * import { tiledGemmWgsl } from "./conv2d_tiled.wgsl.ts";
 * const src = tiledGemmWgsl({ tile: { tm: 4, tn4: 1, wx: 16, wy: 16, bk: 16 }, vecIn: true, vecOut: true,
 *   bias: true, residual: false, relu: true, store: CONV_STORE });
 * console.log(src.includes("@workgroup_size(16, 16)"));
 * ```
 */
export function tiledGemmWgsl(o: TiledGemmOptions): string {
  const { tm, tn4, wx, wy, bk } = o.tile;
  const bm = tm * wy;
  const bn4 = tn4 * wx;
  const bk4 = bk / 4;
  const nt = wx * wy;
  const aVec = bm * bk4;
  const bVec = bk * bn4;
  const R = range(tm);
  const T = range(tn4);
  const inT = o.vecIn ? "vec4f" : "f32";
  // One A element of the tile: vec4 input reads 4 channels of one tap; scalar input decodes 4 K values.
  const loadA = o.vecIn
    ? `fn loadA(r: u32, k4: u32, kTotal4: u32) -> vec4f {
  let tap = k4 / p.cinv;
  let c4 = k4 - tap * p.cinv;
  let ky = tap / p.kw;
  let y = tIy[r] + i32(ky);
  let x = tIx[r] + i32(tap - ky * p.kw);
  let ok = k4 < kTotal4 && y >= 0 && y < i32(p.h) && x >= 0 && x < i32(p.w);
  let i = select(0u, ((tNh[r] + u32(y)) * p.w + u32(x)) * p.cinv + c4, ok);
  return select(vec4f(0.0), x_[i], ok);
}`
    : `fn loadA(r: u32, k4: u32, kTotal: u32) -> vec4f {
  var v = vec4f(0.0);
  for (var j = 0u; j < 4u; j++) {
    let k = k4 * 4u + j;
    let tap = k / p.cin;
    let c = k - tap * p.cin;
    let ky = tap / p.kw;
    let y = tIy[r] + i32(ky);
    let x = tIx[r] + i32(tap - ky * p.kw);
    let ok = k < kTotal && y >= 0 && y < i32(p.h) && x >= 0 && x < i32(p.w);
    let i = select(0u, ((tNh[r] + u32(y)) * p.w + u32(x)) * p.cin + c, ok);
    v[j] = select(0.0, x_[i], ok);
  }
  return v;
}`;
  const epilogue = gemmEpilogueWgsl(o, R, T, (t) => `col${t}`);
  return /* wgsl */ `
${GEMM_PARAMS_WGSL}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x_: array<${inT}>;
@group(0) @binding(2) var<storage, read> w: array<vec4f>;
${gemmOutputBindingsWgsl(o)}
${o.store.wgsl}

var<workgroup> tA: array<vec4f, ${aVec}>; // ${bm} rows × ${bk4} vec4 of K
var<workgroup> tB: array<vec4f, ${bVec}>; // ${bk} K × ${bn4} vec4 columns
var<workgroup> tNh: array<u32, ${bm}>;    // n·H of each row (rows past M repeat the last)
var<workgroup> tIy: array<i32, ${bm}>;
var<workgroup> tIx: array<i32, ${bm}>;

${loadA}

@compute @workgroup_size(${wx}, ${wy})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(num_workgroups) nwg: vec3u) {
  let rowTile = wid.y + wid.z * nwg.y;
  let li = lid.y * ${wx}u + lid.x;
  let hwo = p.ho * p.wo;
  let kTotal = p.kh * p.kw * p.cin;
  let kTotal4 = (kTotal + 3u) / 4u;
  for (var i = li; i < ${bm}u; i += ${nt}u) {
    let m = min(rowTile * ${bm}u + i, p.m - 1u);
    let n = m / hwo; let q = m - n * hwo; let oy = q / p.wo; let ox = q - oy * p.wo;
    tNh[i] = n * p.h;
    tIy[i] = i32(oy * p.stride) - i32(p.pad);
    tIx[i] = i32(ox * p.stride) - i32(p.pad);
  }
  let colBase = wid.x * ${bn4}u;
${R.map((r) => `  let row${r} = rowTile * ${bm}u + lid.y + ${r * wy}u;`).join("\n")}
${T.map((t) => `  let col${t} = colBase + lid.x + ${t * wx}u;`).join("\n")}
  ${R.flatMap((r) => T.map((t) => `var acc${r}_${t} = vec4f(0.0);`)).join("\n  ")}
  workgroupBarrier();
  for (var kk = 0u; kk < kTotal4; kk += ${bk4}u) {
    for (var i = li; i < ${aVec}u; i += ${nt}u) {
      tA[i] = loadA(i / ${bk4}u, kk + i % ${bk4}u, ${o.vecIn ? "kTotal4" : "kTotal"});
    }
    for (var i = li; i < ${bVec}u; i += ${nt}u) {
      let kr = kk * 4u + i / ${bn4}u;
      let c = min(colBase + i % ${bn4}u, p.cols4 - 1u);
      tB[i] = select(vec4f(0.0), w[select(0u, kr * p.cols4 + c, kr < kTotal)], kr < kTotal);
    }
    workgroupBarrier();
    for (var q = 0u; q < ${bk4}u; q++) {
${R.map((r) => `      let a${r} = tA[(lid.y + ${r * wy}u) * ${bk4}u + q];`).join("\n")}
${
    range(4).map((j) =>
      T.map((t) => `      let b${j}_${t} = tB[(q * 4u + ${j}u) * ${bn4}u + lid.x + ${t * wx}u];`).join("\n") +
      "\n" +
      R.flatMap((r) =>
        T.map((t) => `      acc${r}_${t} = fma(vec4f(a${r}[${j}]), b${j}_${t}, acc${r}_${t});`)
      )
        .join("\n")
    ).join("\n")
  }
    }
    workgroupBarrier();
  }
${epilogue}
}
`;
}
