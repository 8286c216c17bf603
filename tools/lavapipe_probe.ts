/**
 * `deno run --unstable-webgpu tools/lavapipe_probe.ts [--m 4096] [--k 1024] [--n 256] [--repeats 3]
 * [--only name,...]`: a GEMM microbenchmark that shows what the adapter's shader compiler rewards (made for
 * Mesa's lavapipe, which runs a workgroup's invocations as SIMD lanes: 8 f32 lanes on AVX2, one CPU thread
 * per workgroup). C[M, N] = A[M, K] · B[K, N], A row-major (like NHWC activations of a 1×1 conv), B packed
 * `[K, N/4]` vec4 (like the packed conv weights). Every variant is checked against a CPU dot product on a
 * few entries, timed `repeats` times interleaved with the others, and reported by its best GFLOP/s along
 * with its loads per lane-FMA.
 *
 * Variants (one invocation owns `tm` rows × `tn4` vec4 columns):
 * - `lanesCols`: lanes along columns (the conv kernel before this probe): A loads are the same address
 *   across the 8 lanes of x, B loads differ per lane.
 * - `uniformB`: a workgroup is one column block, lanes along rows: every B (weight) address depends only
 *   on the workgroup id and loop counters, so lavapipe loads it once and broadcasts it; A loads are
 *   per-lane gathers (vec4 along K).
 * - `wgmem`: classic workgroup-memory tiling (the hardware-GPU shape) for comparison.
 * - `subTexB` / `subBufB` (`G`: B loads grouped per block): A shared through `subgroupBroadcast` (the
 *   kernel of ops/conv2d.ts SUBGROUP_GEMM). Zen 3, Mesa 25.0.7, M 4096 K 1024 N 256, GFLOP/s wall: texB
 *   16×16 (the tile before) 14.5, subTexBG 16×4 17.8–20.7, 16×8 19.2, 8×4 17.8, 3×4 13.3; subBufBG 8×4 12.0.
 *   What is left (GALLIVM_DEBUG=asm, MESA_SHADER_CACHE_DISABLE=true): every `textureLoad` is a call that
 *   spills the live ymm registers; vmulps + vaddps are 24 % of the block's instructions. B from a read-only
 *   storage texture (`subSTexB`, texture_storage_2d<rgba32float, read>) measured the same as a sampled one.
 * @module
 */
import { parseArgs } from "node:util";

interface Variant {
  name: string;
  source: string;
  /** Workgroup grid for M, N. */
  grid: (m: number, n4: number) => [number, number, number];
  /** Loads per lane per 4-K step, and lane-FMAs (scalar) per 4-K step. */
  loads: number;
  fmas: number;
  /** Texture bindings: 1 = B at binding 4, 2 = also A at binding 5. */
  textures?: number;
  /** Needs the `subgroups` feature. */
  subgroups?: boolean;
}

const R = (n: number) => Array.from({ length: n }, (_, i) => i);
const PARAMS = `struct P { m: u32, k4: u32, n4: u32, _p: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> a: array<vec4f>;
@group(0) @binding(2) var<storage, read> b: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> c: array<vec4f>;`;

/** Lanes along rows; B uniform per workgroup (column block = workgroup id x). */
function uniformB(tm: number, tn4: number, wg: number, loop: boolean): Variant {
  const acc = R(tm).flatMap((r) => R(tn4).map((t) => `var acc${r}_${t} = vec4f(0.0);`)).join("\n  ");
  const body = (j: number) =>
    R(tn4).map((t) => `    let b${j}_${t} = b[(kk * 4u + ${j}u) * p.n4 + col0 + ${t}u];`).join("\n") + "\n" +
    R(tm).flatMap((r) =>
      R(tn4).map((t) => `    acc${r}_${t} = fma(vec4f(a${r}[${j}]), b${j}_${t}, acc${r}_${t});`)
    )
      .join("\n");
  const inner = loop
    ? `for (var j = 0u; j < 4u; j++) {
${R(tn4).map((t) => `    let bj${t} = b[(kk * 4u + j) * p.n4 + col0 + ${t}u];`).join("\n")}
${
      R(tm).flatMap((r) =>
        R(tn4).map((t) => `    acc${r}_${t} = fma(vec4f(a${r}[j]), bj${t}, acc${r}_${t});`)
      )
        .join("\n")
    }
    }`
    : R(4).map(body).join("\n");
  const source = `${PARAMS}
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let col0 = wid.x * ${tn4}u;
${R(tm).map((r) => `  let row${r} = min(wid.y * ${tm * wg}u + ${r * wg}u + lid.x, p.m - 1u);`).join("\n")}
  ${acc}
  for (var kk = 0u; kk < p.k4; kk++) {
${R(tm).map((r) => `    let a${r} = a[row${r} * p.k4 + kk];`).join("\n")}
${inner}
  }
${R(tm).flatMap((r) => R(tn4).map((t) => `  c[row${r} * p.n4 + col0 + ${t}u] = acc${r}_${t};`)).join("\n")}
}`;
  return {
    name: `uniformB ${tm}x${tn4 * 4} wg${wg}${loop ? " jloop" : ""}`,
    source,
    grid: (m, n4) => [n4 / tn4, Math.ceil(m / (tm * wg)), 1],
    loads: 4 * tm + 4 * 4 * tn4 / 8, // A: tm vec4 gathers (4 per lane); B: broadcasts shared by 8 lanes
    fmas: tm * tn4 * 16,
  };
}

/** Lanes along columns (x, width wx) and rows (y); the conv kernel's layout before this probe. */
function lanesCols(tm: number, tn4: number, wx: number, wy: number): Variant {
  const acc = R(tm).flatMap((r) => R(tn4).map((t) => `var acc${r}_${t} = vec4f(0.0);`)).join("\n  ");
  const source = `${PARAMS}
@compute @workgroup_size(${wx}, ${wy})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
${R(tm).map((r) => `  let row${r} = min(wid.y * ${tm * wy}u + ${r * wy}u + lid.y, p.m - 1u);`).join("\n")}
${R(tn4).map((t) => `  let col${t} = wid.x * ${tn4 * wx}u + ${t * wx}u + lid.x;`).join("\n")}
  ${acc}
  for (var kk = 0u; kk < p.k4; kk++) {
${R(tm).map((r) => `    let a${r} = a[row${r} * p.k4 + kk];`).join("\n")}
${
    R(4).map((j) =>
      R(tn4).map((t) => `    let b${j}_${t} = b[(kk * 4u + ${j}u) * p.n4 + col${t}];`).join("\n") + "\n" +
      R(tm).flatMap((r) =>
        R(tn4).map((t) => `    acc${r}_${t} = fma(vec4f(a${r}[${j}]), b${j}_${t}, acc${r}_${t});`)
      ).join("\n")
    ).join("\n")
  }
  }
${R(tm).flatMap((r) => R(tn4).map((t) => `  c[row${r} * p.n4 + col${t}] = acc${r}_${t};`)).join("\n")}
}`;
  return {
    name: `lanesCols ${tm}x${tn4 * 4} wg${wx}x${wy}`,
    source,
    grid: (m, n4) => [n4 / (tn4 * wx), Math.ceil(m / (tm * wy)), 1],
    loads: 4 * tm + 16 * tn4,
    fmas: tm * tn4 * 16,
  };
}

/**
 * `lanesCols` with the operands read through `textureLoad` from rgba32float textures instead of storage
 * buffers (B: width N/4, height K; A too when `texA`: width K/4, height M). Bindings 4 (B) and 5 (A).
 */
function texCols(tm: number, tn4: number, wx: number, wy: number, texA: boolean): Variant {
  const acc = R(tm).flatMap((r) => R(tn4).map((t) => `var acc${r}_${t} = vec4f(0.0);`)).join("\n  ");
  const source = `${PARAMS}
@group(0) @binding(4) var tb: texture_2d<f32>;
${texA ? "@group(0) @binding(5) var ta: texture_2d<f32>;" : ""}
@compute @workgroup_size(${wx}, ${wy})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
${R(tm).map((r) => `  let row${r} = min(wid.y * ${tm * wy}u + ${r * wy}u + lid.y, p.m - 1u);`).join("\n")}
${R(tn4).map((t) => `  let col${t} = wid.x * ${tn4 * wx}u + ${t * wx}u + lid.x;`).join("\n")}
  ${acc}
  for (var kk = 0u; kk < p.k4; kk++) {
${
    R(tm).map((r) =>
      texA
        ? `    let a${r} = textureLoad(ta, vec2u(kk, row${r}), 0);`
        : `    let a${r} = a[row${r} * p.k4 + kk];`
    ).join("\n")
  }
${
    R(4).map((j) =>
      R(tn4).map((t) => `    let b${j}_${t} = textureLoad(tb, vec2u(col${t}, kk * 4u + ${j}u), 0);`).join(
        "\n",
      ) +
      "\n" +
      R(tm).flatMap((r) =>
        R(tn4).map((t) => `    acc${r}_${t} = fma(vec4f(a${r}[${j}]), b${j}_${t}, acc${r}_${t});`)
      ).join("\n")
    ).join("\n")
  }
  }
${R(tm).flatMap((r) => R(tn4).map((t) => `  c[row${r} * p.n4 + col${t}] = acc${r}_${t};`)).join("\n")}
}`;
  return {
    name: `tex${texA ? "AB" : "B"} ${tm}x${tn4 * 4} wg${wx}x${wy}`,
    source,
    grid: (m, n4) => [n4 / (tn4 * wx), Math.ceil(m / (tm * wy)), 1],
    loads: 4 * tm + 16 * tn4,
    fmas: tm * tn4 * 16,
    textures: texA ? 2 : 1,
  };
}

/**
 * Lanes along columns with A shared through subgroup broadcasts (the `subgroups` feature; lavapipe's
 * subgroup is the 8 SIMD lanes of x): per K block of 32, each lane loads a DIFFERENT vec4 of A for each of
 * its rows (8 useful values per per-lane load loop instead of 8 copies of one), and every lane takes the
 * A value of K step (j, c) from lane j with `subgroupBroadcast` (a constant lane index: a register shuffle).
 * B from a texture (`texB`) or the storage buffer. Needs wx == 8 (one subgroup per row set) and K % 32 == 0.
 */
function subCols(tm: number, tn4: number, wy: number, texB: boolean | "storage", grouped = false): Variant {
  const wx = 8;
  const acc = R(tm).flatMap((r) => R(tn4).map((t) => `var acc${r}_${t} = vec4f(0.0);`)).join("\n  ");
  const loadB = (t: number, k: string) =>
    texB === "storage"
      ? `textureLoad(tb, vec2u(col${t}, ${k}))`
      : texB
      ? `textureLoad(tb, vec2u(col${t}, ${k}), 0)`
      : `b[(${k}) * p.n4 + col${t}]`;
  const steps = R(8).flatMap((j) => R(4).map((c) => [j, c]));
  const source = `${PARAMS}
${
    texB === "storage"
      ? "@group(0) @binding(6) var tb: texture_storage_2d<rgba32float, read>;"
      : texB
      ? "@group(0) @binding(4) var tb: texture_2d<f32>;"
      : ""
  }
@compute @workgroup_size(${wx}, ${wy})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
${R(tm).map((r) => `  let row${r} = min(wid.y * ${tm * wy}u + ${r * wy}u + lid.y, p.m - 1u);`).join("\n")}
${R(tn4).map((t) => `  let col${t} = wid.x * ${tn4 * wx}u + ${t * wx}u + lid.x;`).join("\n")}
  ${acc}
  for (var kk = 0u; kk < p.k4; kk += 8u) {
${R(tm).map((r) => `    let al${r} = a[row${r} * p.k4 + kk + lid.x];`).join("\n")}
${
    grouped
      ? steps.map(([j, c]) =>
        R(tn4).map((t) => `    let b${j}_${c}_${t} = ${loadB(t, `kk * 4u + ${j * 4 + c}u`)};`).join("\n")
      ).join("\n")
      : ""
  }
${
    steps.map(([j, c]) =>
      (grouped
        ? ""
        : R(tn4).map((t) => `    let b${j}_${c}_${t} = ${loadB(t, `kk * 4u + ${j * 4 + c}u`)};`).join("\n")) +
      "\n" +
      R(tm).map((r) => `    let a${r}_${j}_${c} = subgroupBroadcast(al${r}[${c}], ${j}u);`).join("\n") +
      "\n" +
      R(tm).flatMap((r) =>
        R(tn4).map((t) => `    acc${r}_${t} = fma(vec4f(a${r}_${j}_${c}), b${j}_${c}_${t}, acc${r}_${t});`)
      ).join("\n")
    ).join("\n")
  }
  }
${R(tm).flatMap((r) => R(tn4).map((t) => `  c[row${r} * p.n4 + col${t}] = acc${r}_${t};`)).join("\n")}
}`;
  return {
    name: `sub${texB === "storage" ? "STexB" : texB ? "TexB" : "BufB"}${grouped ? "G" : ""} ${tm}x${
      tn4 * 4
    } wg${wx}x${wy}`,
    source,
    grid: (m, n4) => [n4 / (tn4 * wx), Math.ceil(m / (tm * wy)), 1],
    loads: (4 * tm) / 8 + 4 * tn4,
    fmas: tm * tn4 * 16,
    textures: texB === "storage" ? 3 : texB ? 1 : 0,
    subgroups: true,
  };
}

/** Workgroup-memory tiling: a 64×64 tile, K chunk 16, 4×4 outputs per invocation (16×16 = 256 lanes). */
function wgmem(): Variant {
  const source = `${PARAMS}
var<workgroup> sa: array<vec4f, 256>; // 64 rows × 4 vec4 (16 K)
var<workgroup> sb: array<vec4f, 256>; // 16 K × 16 vec4 columns
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let li = lid.y * 16u + lid.x;
  var acc: array<vec4f, 4>;
  for (var kk = 0u; kk < p.k4; kk += 4u) {
    let ar = min(wid.y * 64u + li / 4u, p.m - 1u);
    sa[li] = a[ar * p.k4 + kk + li % 4u];
    sb[li] = b[(kk * 4u + li / 16u) * p.n4 + wid.x * 16u + li % 16u];
    workgroupBarrier();
    for (var q = 0u; q < 4u; q++) {
      for (var j = 0u; j < 4u; j++) {
        let bv = sb[(q * 4u + j) * 16u + lid.x];
        for (var r = 0u; r < 4u; r++) {
          acc[r] = fma(vec4f(sa[(lid.y * 4u + r) * 4u + q][j]), bv, acc[r]);
        }
      }
    }
    workgroupBarrier();
  }
  for (var r = 0u; r < 4u; r++) {
    let row = wid.y * 64u + lid.y * 4u + r;
    if (row < p.m) { c[row * p.n4 + wid.x * 16u + lid.x] = acc[r]; }
  }
}`;
  return {
    name: "wgmem 4x4 wg16x16",
    source,
    grid: (m, n4) => [n4 / 16, Math.ceil(m / 64), 1],
    loads: 8 + 16 * (4 + 16), // per 16 K: a global vec4 of A and B, then 16 × (B vec4 + 4 A vec4) shared
    fmas: 256,
  };
}

/**
 * Workgroup-memory tiling, generic: a BM × (4·BN4) output tile per workgroup, K staged BK at a time into
 * workgroup memory by all invocations (vec4 global loads), each invocation owning TM rows × TN4 vec4
 * columns (rows strided by the workgroup height, columns by its width).
 */
function tiled(bm: number, bn4: number, bk: number, tm: number, tn4: number): Variant {
  const wx = bn4 / tn4;
  const wy = bm / tm;
  const nt = wx * wy;
  const bk4 = bk / 4;
  const aVec = bm * bk4;
  const bVec = bk * bn4;
  const acc = R(tm).flatMap((r) => R(tn4).map((t) => `var acc${r}_${t} = vec4f(0.0);`)).join("\n  ");
  const source = `${PARAMS}
var<workgroup> sa: array<vec4f, ${aVec}>; // ${bm} rows × ${bk4} vec4 of K
var<workgroup> sb: array<vec4f, ${bVec}>; // ${bk} K × ${bn4} vec4 columns
@compute @workgroup_size(${wx}, ${wy})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let li = lid.y * ${wx}u + lid.x;
  ${acc}
  for (var kk = 0u; kk < p.k4; kk += ${bk4}u) {
    for (var i = li; i < ${aVec}u; i += ${nt}u) {
      let ar = min(wid.y * ${bm}u + i / ${bk4}u, p.m - 1u);
      sa[i] = a[ar * p.k4 + kk + i % ${bk4}u];
    }
    for (var i = li; i < ${bVec}u; i += ${nt}u) {
      sb[i] = b[(kk * 4u + i / ${bn4}u) * p.n4 + wid.x * ${bn4}u + i % ${bn4}u];
    }
    workgroupBarrier();
    for (var q = 0u; q < ${bk4}u; q++) {
${R(tm).map((r) => `      let a${r} = sa[(lid.y + ${r * wy}u) * ${bk4}u + q];`).join("\n")}
${
    R(4).map((j) =>
      R(tn4).map((t) => `      let b${j}_${t} = sb[(q * 4u + ${j}u) * ${bn4}u + lid.x + ${t * wx}u];`).join(
        "\n",
      ) +
      "\n" +
      R(tm).flatMap((r) =>
        R(tn4).map((t) => `      acc${r}_${t} = fma(vec4f(a${r}[${j}]), b${j}_${t}, acc${r}_${t});`)
      ).join("\n")
    ).join("\n")
  }
    }
    workgroupBarrier();
  }
${
    R(tm).flatMap((r) =>
      R(tn4).map((t) =>
        `  { let row = wid.y * ${bm}u + lid.y + ${
          r * wy
        }u; if (row < p.m) { c[row * p.n4 + wid.x * ${bn4}u + lid.x + ${t * wx}u] = acc${r}_${t}; } }`
      )
    ).join("\n")
  }
}`;
  return {
    name: `tiled ${bm}x${bn4 * 4}k${bk} t${tm}x${tn4 * 4} wg${wx}x${wy}`,
    source,
    grid: (m, n4) => [n4 / bn4, Math.ceil(m / bm), 1],
    loads: 4 * (aVec + bVec) / nt + (tm + 4 * tn4) * 4,
    fmas: tm * tn4 * 16,
  };
}

/** All probed variants. */
export function probeVariants(): Variant[] {
  return [
    lanesCols(8, 4, 8, 8),
    lanesCols(4, 4, 8, 8),
    lanesCols(16, 4, 8, 8),
    lanesCols(8, 8, 8, 8),
    lanesCols(16, 8, 8, 8),
    lanesCols(12, 4, 8, 8),
    lanesCols(8, 4, 8, 4),
    lanesCols(8, 4, 4, 16),
    lanesCols(24, 4, 8, 8),
    lanesCols(32, 4, 8, 8),
    lanesCols(16, 4, 4, 16),
    lanesCols(16, 4, 8, 4),
    uniformB(1, 1, 64, false),
    uniformB(1, 2, 64, false),
    uniformB(1, 4, 64, false),
    uniformB(2, 2, 64, false),
    uniformB(2, 4, 64, false),
    uniformB(4, 2, 64, false),
    uniformB(4, 4, 64, false),
    uniformB(2, 4, 64, true),
    uniformB(2, 4, 8, false),
    uniformB(2, 4, 256, false),
    uniformB(8, 4, 64, false),
    wgmem(),
    texCols(8, 4, 8, 8, false),
    texCols(8, 4, 8, 8, true),
    texCols(16, 4, 8, 4, true),
    texCols(4, 4, 8, 8, true),
    texCols(8, 2, 8, 8, true),
    texCols(16, 4, 8, 8, true),
    texCols(16, 8, 8, 4, true),
    texCols(32, 4, 8, 2, true),
    texCols(16, 4, 8, 4, false),
    tiled(64, 16, 16, 4, 1),
    tiled(64, 16, 16, 4, 2),
    tiled(64, 16, 16, 8, 1),
    tiled(64, 16, 16, 2, 1),
    tiled(64, 16, 32, 4, 1),
    tiled(128, 16, 16, 8, 1),
    tiled(64, 32, 16, 4, 2),
    tiled(32, 16, 16, 2, 1),
    tiled(64, 8, 16, 4, 1),
    subCols(16, 4, 4, true),
    subCols(16, 4, 4, false),
    subCols(8, 4, 8, true),
    subCols(4, 1, 8, true),
    subCols(3, 1, 8, true),
    subCols(2, 2, 8, true),
    subCols(4, 2, 8, true),
    subCols(8, 2, 8, true),
    subCols(8, 1, 8, true),
    subCols(3, 1, 8, true, true),
    subCols(4, 1, 8, true, true),
    subCols(8, 1, 8, true, true),
    subCols(16, 1, 8, true, true),
    subCols(2, 2, 8, true, true),
    subCols(24, 1, 8, true, true),
    subCols(32, 1, 8, true, true),
    subCols(32, 1, 4, true, true),
    subCols(16, 2, 8, true, true),
    subCols(16, 1, 4, true, true),
    subCols(16, 2, 4, "storage", true),
    subCols(16, 2, 4, true, true),
    subCols(16, 1, 8, "storage", true),
    subCols(16, 1, 8, true, true),
    subCols(3, 1, 8, false, true),
    subCols(8, 1, 8, false, true),
  ];
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      m: { type: "string", default: "4096" },
      k: { type: "string", default: "1024" },
      n: { type: "string", default: "256" },
      repeats: { type: "string", default: "3" },
      only: { type: "string" },
    },
  });
  const [m, k, n, repeats] = [values.m, values.k, values.n, values.repeats].map(Number);
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) throw new Error("no WebGPU adapter");
  // Deno 2.9 grants "subgroups" on request although lavapipe's adapter does not list it.
  const subgroups = await adapter.requestDevice({ requiredFeatures: ["subgroups"] }).then(
    (d) => (d.destroy(), true),
    () => false,
  );
  const device = await adapter.requestDevice({
    requiredFeatures: subgroups ? ["subgroups"] : [],
    requiredLimits: {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
      maxComputeInvocationsPerWorkgroup: adapter.limits.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: adapter.limits.maxComputeWorkgroupSizeX,
    },
  });
  device.lost.then((info) => console.log("!! device lost:", info.reason, info.message));
  device.addEventListener(
    "uncapturederror",
    (e) => console.log("!! GPU error:", (e as GPUUncapturedErrorEvent).error.message),
  );
  const cpu = (await Deno.readTextFile("/proc/cpuinfo").catch(() => "")).match(/cpu family\s*:\s*(\d+)/)?.[1];
  console.log(`adapter: ${adapter.info.description}; cpu family ${cpu}; M ${m} K ${k} N ${n}`);
  const rand = (len: number, seed: number) => {
    const out = new Float32Array(len);
    for (let i = 0; i < len; i++) out[i] = (((i * 2654435761 + seed) >>> 0) % 1000) / 1000 - 0.5;
    return out;
  };
  const ha = rand(m * k, 1);
  const hb = rand(k * n, 2);
  const mk = (data: Float32Array | number, usage: number) => {
    const size = typeof data === "number" ? data : data.byteLength;
    const buf = device.createBuffer({ size, usage, mappedAtCreation: typeof data !== "number" });
    if (typeof data !== "number") {
      new Float32Array(buf.getMappedRange()).set(data);
      buf.unmap();
    }
    return buf;
  };
  const S = GPUBufferUsage.STORAGE;
  const ga = mk(ha, S);
  const gb = mk(hb, S);
  const gc = mk(m * n * 4, S | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST);
  const rb = mk(m * n * 4, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
  const texture = (data: Float32Array<ArrayBuffer>, width: number, height: number) => {
    const t = device.createTexture({
      size: [width, height],
      format: "rgba32float",
      usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST,
    });
    device.queue.writeTexture({ texture: t }, data, { bytesPerRow: width * 16 }, [width, height]);
    return t;
  };
  const texB = texture(hb, n / 4, k);
  const stexB = device.createTexture({
    size: [n / 4, k],
    format: "rgba32float",
    usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.COPY_DST,
  });
  device.queue.writeTexture({ texture: stexB }, hb, { bytesPerRow: n / 4 * 16 }, [n / 4, k]);
  const texA = texture(ha, k / 4, m);
  const uni = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(uni, 0, new Uint32Array([m, k / 4, n / 4, 0]));
  const only = values.only?.split(",");
  const variants = probeVariants().filter((v) =>
    (!only || only.some((o) => v.name.includes(o))) && (subgroups || !v.subgroups)
  );
  const best = new Map<string, number>();
  const pipes = variants.map((v) => {
    device.pushErrorScope("validation");
    const module = device.createShaderModule({ code: v.source });
    const pipeline = device.createComputePipeline({
      layout: "auto",
      compute: { module, entryPoint: "main" },
    });
    device.popErrorScope().then((e) => e && console.log(`!! ${v.name}: ${e.message}`));
    const entries: GPUBindGroupEntry[] = [uni, ga, gb, gc].map((buffer, binding) => ({
      binding,
      resource: { buffer },
    })).filter((e) =>
      !v.textures || e.binding === 0 || e.binding === 3 ||
      ((v.textures === 1 || v.textures === 3) && e.binding === 1)
    );
    if (v.textures === 3) entries.push({ binding: 6, resource: stexB.createView() });
    else if (v.textures) entries.push({ binding: 4, resource: texB.createView() });
    if (v.textures === 2) entries.push({ binding: 5, resource: texA.createView() });
    const group = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    return { v, pipeline, group };
  });
  const run = async ({ v, pipeline, group }: typeof pipes[number]) => {
    const e = device.createCommandEncoder();
    const pass = e.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(...v.grid(m, n / 4));
    pass.end();
    e.copyBufferToBuffer(gc, 0, rb, 0, 16);
    device.queue.submit([e.finish()]);
    await rb.mapAsync(GPUMapMode.READ, 0, 16); // waits for the dispatch to finish
    rb.unmap();
  };
  for (const pp of pipes) { // warm-up (compile) and check
    const clear = device.createCommandEncoder();
    clear.clearBuffer(gc);
    device.queue.submit([clear.finish()]);
    await run(pp);
    const e = device.createCommandEncoder();
    e.copyBufferToBuffer(gc, 0, rb, 0, m * n * 4);
    device.queue.submit([e.finish()]);
    await rb.mapAsync(GPUMapMode.READ);
    const out = new Float32Array(rb.getMappedRange().slice(0));
    rb.unmap();
    let worst = 0;
    for (const [i, j] of [[0, 0], [m - 1, n - 1], [m >> 1, 37 % n], [17 % m, n >> 1]]) {
      let s = 0;
      for (let q = 0; q < k; q++) s += ha[i * k + q] * hb[q * n + j];
      worst = Math.max(worst, Math.abs(out[i * n + j] - s) / (Math.abs(s) + 1e-3));
    }
    if (worst > 1e-3) console.log(`!! ${pp.v.name}: wrong result (rel ${worst})`);
  }
  const cpuMs = () => {
    const f = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
    return (Number(f[11]) + Number(f[12])) * 10; // utime + stime, clock ticks of 10 ms
  };
  const cpuBest = new Map<string, number>();
  for (let rep = 0; rep < repeats; rep++) {
    for (const pp of pipes) {
      const t0 = performance.now();
      const c0 = cpuMs();
      await run(pp);
      const g = 2 * m * n * k / (performance.now() - t0) / 1e6;
      best.set(pp.v.name, Math.max(best.get(pp.v.name) ?? 0, g));
      const c = cpuMs() - c0;
      if (Deno.env.get("PROBE_VERBOSE")) {
        console.log(pp.v.name, (performance.now() - t0).toFixed(1), "ms wall", c, "ms cpu");
      }
      cpuBest.set(pp.v.name, Math.min(cpuBest.get(pp.v.name) ?? Infinity, c));
    }
  }
  for (const { v } of pipes) {
    const cpu = cpuBest.get(v.name)!;
    console.log(
      `${v.name.padEnd(30)} ${best.get(v.name)!.toFixed(2).padStart(7)} GFLOP/s wall, ` +
        `${(2 * m * n * k / cpu / 1e6).toFixed(2).padStart(7)} GFLOP per CPU-s (${cpu} ms); ` +
        `loads/lane-FMA ${(v.loads / v.fmas).toFixed(3)}`,
    );
  }
}
