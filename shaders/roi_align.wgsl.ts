/**
 * WGSL of RoIAlign (torchvision's CPU kernel, bit-for-bit the same sequence of f32 operations where WGSL
 * allows) over NHWC features, for one feature map or for up to four FPN levels bound at once with the
 * level of each RoI chosen on the GPU by torchvision's `LevelMapper`.
 *
 * Layout: one invocation per output element (r, ph, pw, c4) of `out [R, outH, outW, C]`, channels
 * innermost, so neighbouring invocations read neighbouring channels of the same four feature pixels (one
 * vec4 per invocation when C % 4 == 0: `cv` = C / 4 vectors per pixel, else `cv` = C scalars). Every
 * invocation recomputes its RoI's geometry and sample weights: a few dozen ALU ops against 16 memory loads
 * per sample, and no workgroup barrier or second pass is needed. A workgroup of 64 covers one bin of a
 * 256-channel map, so the level branch and the sample loop are uniform across it.
 *
 * Backward (`roi_align_backward.wgsl.ts` implements (a); (b) remains a possible upgrade): the same
 * invocation layout can scatter `grad_out[r, ph, pw, c] / count * w_k` into the four taps of each sample. WGSL has atomics only for
 * i32/u32, so either (a) bind `grad_in` as `array<atomic<u32>>` and add with a compare-exchange loop on
 * `bitcast<u32>(bitcast<f32>(old) + g)` (contention is low: channels are distinct addresses, only bins
 * of overlapping RoIs collide), or (b) a deterministic gather: bin the RoIs by (batch, tile of the map) in
 * a counting-sort pass, then one invocation per input pixel (b, y, x, c4) walks the RoIs of its tile and
 * sums the weights of the samples whose taps include (y, x). (b) needs no atomics and is reproducible.
 * @module
 */
import { MAIN_1D_ARGS } from "./common.wgsl.ts";
import { BILINEAR_TAPS_WGSL, ROI_GRID_WGSL } from "./roi_sampling.wgsl.ts";

/** Invocations per workgroup of the RoI kernels. */
export const ROI_WORKGROUP = 64;

/** Static variants of the RoIAlign kernel (each compiles once). */
export interface RoiAlignVariant {
  /** Channels as vec4 (C % 4 == 0) or scalars. */
  vec4: boolean;
  /** Number of feature maps bound (1 to 4). */
  levels: number;
  /** Choose the level of each RoI with the FPN level mapper (else level 0). */
  mapLevels: boolean;
}

/** The params block shared by the RoIAlign kernels (16 scalar words, then three vec4 of per-level data). */
export const ROI_ALIGN_PARAMS_WGSL = /* wgsl */ `
struct Params {
  rois: u32, outH: u32, outW: u32, cv: u32,
  sampling: i32, aligned: u32, batch: u32, total: u32,
  kMin: f32, kMax: f32, canonicalScale: f32, canonicalLevel: f32,
  eps: f32, offset: u32, _p1: u32, _p2: u32,
  height: vec4u, width: vec4u, scale: vec4f,
}`;

/**
 * torchvision's `LevelMapper` in f32: `floor(lvl0 + log2(sqrt(area) / s0) + eps)` clamped to
 * [kMin, kMax], minus kMin. log2 is split with frexp so exact powers of two give exact integers. A negative
 * area (inverted box) gives -1: torch's float NaN → int64 cast matches no level, so that RoI pools zeros.
 */
export const LEVEL_MAPPER_WGSL = /* wgsl */ `
fn log2Exact(v: f32) -> f32 {
  let fr = frexp(v);
  if (fr.fract == 0.5) { return f32(fr.exp - 1); }
  return f32(fr.exp) + log2(fr.fract);
}
fn mapLevel(x1: f32, y1: f32, x2: f32, y2: f32) -> i32 {
  let area = (x2 - x1) * (y2 - y1);
  if (area < 0.0) { return -1; }
  var lvl = p.kMin;
  if (area > 0.0) {
    let t = p.canonicalLevel + log2Exact(sqrt(area) / p.canonicalScale);
    lvl = clamp(floor(t + p.eps), p.kMin, p.kMax);
  }
  return i32(lvl - p.kMin);
}`;

/**
 * `fn load(l, i)`: element i of feature map l of `levels` maps bound as `f0..f{levels-1}` (WGSL cannot
 * index bindings dynamically; the branch is uniform per RoI).
 *
 * @example
 * ```ts
 * import { levelLoadWgsl } from "./roi_align.wgsl.ts";
 * console.log(levelLoadWgsl(4, "vec4f").includes("f3[i]"));
 * ```
 */
export function levelLoadWgsl(levels: number, scalar: string): string {
  const lines = [];
  for (let l = 0; l < levels - 1; l++) lines.push(`  if (l == ${l}u) { return f${l}[i]; }`);
  return `fn load(l: u32, i: u32) -> ${scalar} {\n${lines.join("\n")}\n  return f${levels - 1}[i];\n}`;
}

/**
 * The RoIAlign kernel. Bindings: 1 `rois [R, 5]`, 2.. the feature maps, then `out`.
 *
 * @example
 * ```ts
 * import { roiAlignWgsl } from "./roi_align.wgsl.ts";
 * console.log(roiAlignWgsl({ vec4: true, levels: 4, mapLevels: true }).includes("fn mapLevel"));
 * ```
 */
export function roiAlignWgsl({ vec4, levels, mapLevels }: RoiAlignVariant): string {
  const V = vec4 ? "vec4f" : "f32";
  const feats = Array.from(
    { length: levels },
    (_, l) => `@group(0) @binding(${l + 2}) var<storage, read> f${l}: array<${V}>;`,
  ).join("\n");
  return /* wgsl */ `
${ROI_ALIGN_PARAMS_WGSL}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> rois: array<f32>;
${feats}
@group(0) @binding(${levels + 2}) var<storage, read_write> out: array<${V}>; // from element p.offset
${mapLevels ? LEVEL_MAPPER_WGSL : ""}
${levelLoadWgsl(levels, V)}

${ROI_GRID_WGSL}
${BILINEAR_TAPS_WGSL}
// torchvision's bilinear_interpolate over the four taps.
fn bilinear(l: u32, base: u32, y: f32, x: f32, h: u32, w: u32) -> ${V} {
  let t = bilinearTaps(y, x, h, w);
  if (!t.valid) { return ${V}(0.0); }
  return t.w.x * load(l, base + t.i.x * p.cv) + t.w.y * load(l, base + t.i.y * p.cv) +
    t.w.z * load(l, base + t.i.z * p.cv) + t.w.w * load(l, base + t.i.w * p.cv);
}

@compute @workgroup_size(${ROI_WORKGROUP})
fn main(${MAIN_1D_ARGS}) {
  let local = (wid.y * nwg.x + wid.x) * ${ROI_WORKGROUP}u + lid.x; // within this dispatch's output range
  if (local >= p.total) { return; }
  let idx = p.offset + local;
  let c = idx % p.cv;
  let bin = idx / p.cv;
  let pw = bin % p.outW;
  let ph = (bin / p.outW) % p.outH;
  let r = bin / (p.outW * p.outH);
  let b = i32(rois[r * 5u]);
  let x1 = rois[r * 5u + 1u];
  let y1 = rois[r * 5u + 2u];
  let x2 = rois[r * 5u + 3u];
  let y2 = rois[r * 5u + 4u];
  ${mapLevels ? "let li = mapLevel(x1, y1, x2, y2);" : "let li = 0;"}
  if (li < 0 || li >= ${levels} || b < 0 || u32(b) >= p.batch) { out[local] = ${V}(0.0); return; }
  let l = u32(li);
  let h = p.height[l];
  let w = p.width[l];
  let g = roiGrid(x1, y1, x2, y2, p.scale[l], p.aligned != 0u, p.outH, p.outW, p.sampling);
  let base = u32(b) * h * w * p.cv + c;
  var acc = ${V}(0.0);
  for (var iy = 0; iy < g.gridH; iy++) {
    let y = g.startH + f32(ph) * g.binH + (f32(iy) + 0.5) * g.binH / f32(g.gridH);
    for (var ix = 0; ix < g.gridW; ix++) {
      let x = g.startW + f32(pw) * g.binW + (f32(ix) + 0.5) * g.binW / f32(g.gridW);
      acc += bilinear(l, base, y, x, h, w);
    }
  }
  out[local] = acc / g.count;
}
`;
}

/**
 * The FPN level assignment alone (for `roiLevels`), one invocation per RoI, with the same `mapLevel` as the
 * pooling kernel so the two never disagree. Writes `levels[r]` = the 0-based level index of RoI r (−1 for
 * an inverted box), from `rois [R, 5]`.
 *
 * @example
 * ```ts
 * import { roiLevelsWgsl } from "./roi_align.wgsl.ts";
 * console.log(roiLevelsWgsl().includes("mapLevel"));
 * ```
 */
export function roiLevelsWgsl(): string {
  return /* wgsl */ `
struct Params { rois: u32, kMin: f32, kMax: f32, canonicalScale: f32, canonicalLevel: f32, eps: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> rois: array<f32>;
@group(0) @binding(2) var<storage, read_write> levels: array<i32>;
${LEVEL_MAPPER_WGSL}

@compute @workgroup_size(${ROI_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(num_workgroups) nwg: vec3u) {
  let r = (wid.y * nwg.x + wid.x) * ${ROI_WORKGROUP}u + lid.x;
  if (r >= p.rois) { return; }
  levels[r] = mapLevel(rois[r * 5u + 1u], rois[r * 5u + 2u], rois[r * 5u + 3u], rois[r * 5u + 4u]);
}
`;
}
