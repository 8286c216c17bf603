/**
 * WGSL of the convolution input gradient (ops/conv2d_backward.ts) and two small helpers shared by the
 * GEMM backward passes: the ReLU gradient mask and the weight transpose.
 *
 * Input gradient ("dgrad") as an implicit GEMM without zero insertion: dx[n, iy, ix, ci] =
 * Σ_{ky, kx, co} g[n, oy, ox, co] · W[ky, kx, ci, co] over the taps with iy = oy·s − pad + ky. For stride s
 * the input pixels split into s² phases (iy mod s, ix mod s); within one phase the contributing taps are
 * fixed: ky = ky0 + j·s (j < kjy) with oy = qy + cy − j, where iy = qy·s + py, ky0 = (py + pad) mod s and
 * cy = ⌊(py + pad) / s⌋. One dispatch per phase (params py, px, ky0, cy, ...) walks rows m = (n, qy, qx)
 * of that phase's sub-grid, so the tap loop is uniform across a workgroup and no multiply by an inserted
 * zero is ever issued (stride 1 is the single phase 0). K = taps · Cout, columns = Cin; the B operand is the
 * weight transposed once per call to `[kh·kw·Cout, Cin4·4]` ({@link transposeWeightsWgsl}) so its rows are
 * vec4 along Cin, exactly like the forward kernel (shaders/conv2d.wgsl.ts), whose register blocking (TM rows
 * × TN4 vec4 columns per invocation, no workgroup memory) this kernel mirrors.
 * @module
 */
import { gemmAccumulatorsWgsl, gemmChannelLoopWgsl, gemmLoadBWgsl, type GemmTile } from "./conv2d.wgsl.ts";
import { LINEAR_INDEX_WGSL, MAIN_1D_ARGS } from "./common.wgsl.ts";

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** Source variants of {@link dgradWgsl}: vec4 reads of g (Cout % 4 == 0), vec4 stores (Cin % 4 == 0). */
export interface DgradOptions {
  tile: GemmTile;
  vecIn: boolean;
  vecOut: boolean;
  /** Read wt through `textureLoad` from an rgba32float texture (width cols4, height K) bound at 2. */
  texB?: boolean;
}

/**
 * The phase-wise input-gradient kernel. Bindings: 1 g `[N, Ho, Wo, Cout]`, 2 wt (`[kh·kw·Cout, cols4]`
 * vec4), 3 dx `[N, H, W, Cin]`.
 *
 * @example
 * ```ts
 * import { dgradWgsl } from "./conv2d_backward.wgsl.ts";
 * const src = dgradWgsl({ tile: { tm: 4, tn4: 4, wx: 8, wy: 8 }, vecIn: true, vecOut: false });
 * console.log(src.includes("p.kjy"));
 * ```
 */
export function dgradWgsl(o: DgradOptions): string {
  const { tm, tn4, wx, wy } = o.tile;
  const R = range(tm);
  const T = range(tn4);
  const inT = o.vecIn ? "vec4f" : "f32";
  const inner = gemmChannelLoopWgsl(o.tile, {
    vecIn: o.vecIn,
    a: "g",
    count: o.vecIn ? "p.coutv" : "p.cout",
    indent: 8,
  });
  const store = R.map((r) =>
    T.map((t) =>
      o.vecOut
        ? `  if (row${r} < p.mq && colRaw${t} < p.cols4) { dx[pix${r} * p.cols4 + colRaw${t}] = acc${r}_${t}; }`
        : `  if (row${r} < p.mq) {
    for (var i = 0u; i < 4u; i++) {
      let c = colRaw${t} * 4u + i;
      if (c < p.cin) { dx[pix${r} * p.cin + c] = acc${r}_${t}[i]; }
    }
  }`
    ).join("\n")
  ).join("\n");
  return /* wgsl */ `
struct Params {
  batch: u32, h: u32, w: u32, cin: u32,
  ho: u32, wo: u32, cout: u32, coutv: u32,
  kw: u32, stride: u32, cols4: u32, mq: u32,
  hq: u32, wq: u32, py: u32, px: u32,
  ky0: u32, kx0: u32, kjy: u32, kjx: u32,
  cy: u32, cx: u32, _a: u32, _b: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<${inT}>;
${gemmLoadBWgsl("wt", o.texB)}
@group(0) @binding(3) var<storage, read_write> dx: array<${o.vecOut ? "vec4f" : "f32"}>;

@compute @workgroup_size(${wx}, ${wy})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(num_workgroups) nwg: vec3u) {
  let rowTile = wid.y + wid.z * nwg.y;
  let hwq = p.hq * p.wq;
  let cstride = select(p.cout, p.coutv, ${o.vecIn});
${
    R.map((r) =>
      `  let row${r} = rowTile * ${tm * wy}u + lid.y + ${r * wy}u;
  let m${r} = min(row${r}, p.mq - 1u);
  let n${r} = m${r} / hwq; let q${r} = m${r} - n${r} * hwq; let qy${r} = q${r} / p.wq; let qx${r} = q${r} - qy${r} * p.wq;
  let oy${r} = i32(qy${r} + p.cy); let ox${r} = i32(qx${r} + p.cx); let nh${r} = n${r} * p.ho;
  let pix${r} = (n${r} * p.h + qy${r} * p.stride + p.py) * p.w + qx${r} * p.stride + p.px;`
    ).join("\n")
  }
${gemmAccumulatorsWgsl(o.tile)}
  for (var j = 0u; j < p.kjy; j++) {
    let ky = p.ky0 + j * p.stride;
    for (var i = 0u; i < p.kjx; i++) {
      let wk = (ky * p.kw + p.kx0 + i * p.stride) * p.cout;
${
    R.map((r) =>
      `      let y${r} = oy${r} - i32(j); let x${r} = ox${r} - i32(i);
      let ok${r} = y${r} >= 0 && y${r} < i32(p.ho) && x${r} >= 0 && x${r} < i32(p.wo);
      let base${r} = select(0u, ((nh${r} + u32(y${r})) * p.wo + u32(x${r})) * cstride, ok${r});`
    ).join("\n")
  }
      ${inner}
    }
  }
${store}
}
`;
}

/**
 * ReLU gradient mask `gPre = select(0, g, out > 0)` (torch's threshold_backward), elementwise over `n`
 * scalars or vec4s. Bindings: 1 g, 2 out (the forward output), 3 gPre.
 *
 * @example
 * ```ts
 * import { reluMaskWgsl } from "./conv2d_backward.wgsl.ts";
 * console.log(reluMaskWgsl(true).includes("vec4f"));
 * ```
 */
export function reluMaskWgsl(vec4: boolean): string {
  const t = vec4 ? "vec4f" : "f32";
  return /* wgsl */ `
struct Params { n: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<${t}>;
@group(0) @binding(2) var<storage, read> y: array<${t}>;
@group(0) @binding(3) var<storage, read_write> gPre: array<${t}>;
${LINEAR_INDEX_WGSL}
@compute @workgroup_size(256)
fn main(${MAIN_1D_ARGS}) {
  let i = linearIndex(wid, lid, nwg);
  if (i < p.n) { gPre[i] = select(${t}(0.0), g[i], y[i] > ${t}(0.0)); }
}`;
}

/**
 * Per-tap transpose of a packed GEMM weight: w `[taps·r1, colsW]` → wt `[taps·r2, c2]` with
 * wt[(t·r2 + j)·c2 + i] = w[(t·r1 + i)·colsW + j] for i < r1, 0 in the padded columns (c2 = ⌈r1/4⌉·4).
 * One invocation per 4×4 block (t, j4, i4): four vec4 reads of w (rows i, columns 4·j4 …; colsW % 4 == 0)
 * and four vec4 writes of wt (rows j < r2), a quarter of the memory operations of one scalar per element.
 * Bindings: 1 w (vec4), 2 wt (vec4). Params: total = taps·⌈r2/4⌉·c2/4 blocks.
 *
 * @example
 * ```ts
 * import { TRANSPOSE_WEIGHTS_WGSL } from "./conv2d_backward.wgsl.ts";
 * console.log(TRANSPOSE_WEIGHTS_WGSL.includes("colsW"));
 * ```
 */
export const TRANSPOSE_WEIGHTS_WGSL = /* wgsl */ `
struct Params { total: u32, r1: u32, r2: u32, c2: u32, colsW: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> wt: array<vec4f>;
${LINEAR_INDEX_WGSL}
@compute @workgroup_size(256)
fn main(${MAIN_1D_ARGS}) {
  let o = linearIndex(wid, lid, nwg);
  if (o >= p.total) { return; }
  let c4 = p.c2 / 4u;
  let j4s = (p.r2 + 3u) / 4u;
  let i4 = o % c4;
  let tj = o / c4;
  let j4 = tj % j4s;
  let t = tj / j4s;
  let cw4 = p.colsW / 4u;
  var rows: array<vec4f, 4>;
  for (var q = 0u; q < 4u; q++) {
    let i = 4u * i4 + q;
    rows[q] = select(vec4f(0.0), w[min((t * p.r1 + i) * cw4 + j4, arrayLength(&w) - 1u)], i < p.r1);
  }
  for (var e = 0u; e < 4u; e++) {
    let j = 4u * j4 + e;
    if (j < p.r2) {
      wt[(t * p.r2 + j) * c4 + i4] = vec4f(rows[0][e], rows[1][e], rows[2][e], rows[3][e]);
    }
  }
}`;
