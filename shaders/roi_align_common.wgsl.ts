/**
 * WGSL shared by every RoIAlign kernel (forward, atomic backward, the deterministic gather backward and its
 * tile-marking pass): ONE home for the uniform layout, the FPN level mapper, the bin decoding and the
 * per-RoI prologue (batch index, level, map size, sampling grid), so the four kernels can never disagree
 * on which RoI samples what.
 *
 * Uniform layout (`struct Params`, packed by `roiAlignParamWords` in ops/roi_align.ts): 16 scalar words,
 * then three vec4 of per-level data (height, width, scale) — 28 words; a kernel that needs more appends
 * its own fields after them (`roiAlignParamsWgsl(extra)`).
 * @module
 */

/** Invocations per workgroup of the RoI kernels. */
export const ROI_WORKGROUP = 64;

/**
 * Declares `struct Params`: the shared RoIAlign layout, then `extra` fields (WGSL member declarations,
 * e.g. `"level: u32, _q0: u32, _q1: u32, _q2: u32,"`).
 *
 * @example
 * ```ts
 * import { roiAlignParamsWgsl } from "./roi_align_common.wgsl.ts";
 * console.log(roiAlignParamsWgsl("level: u32,").includes("level: u32"));
 * ```
 */
export function roiAlignParamsWgsl(extra = ""): string {
  return /* wgsl */ `
struct Params {
  rois: u32, outH: u32, outW: u32, cv: u32,
  sampling: i32, aligned: u32, batch: u32, total: u32,
  kMin: f32, kMax: f32, canonicalScale: f32, canonicalLevel: f32,
  eps: f32, offset: u32, _p1: u32, _p2: u32,
  height: vec4u, width: vec4u, scale: vec4f,
  ${extra}
}`;
}

/**
 * torchvision's `LevelMapper` in f32: `floor(lvl0 + log2(sqrt(area) / s0) + eps)` clamped to
 * [kMin, kMax], minus kMin. log2 is split with frexp so exact powers of two give exact integers. A negative
 * area (inverted box) gives -1: torch's float NaN → int64 cast matches no level, so that RoI pools zeros.
 * Reads `p.kMin`, `p.kMax`, `p.canonicalLevel`, `p.canonicalScale`, `p.eps`.
 *
 * @example
 * ```ts
 * import { LEVEL_MAPPER_WGSL } from "./roi_align_common.wgsl.ts";
 * console.log(LEVEL_MAPPER_WGSL.includes("fn mapLevel"));
 * ```
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

/** Static choices of the RoI prologue. */
export interface RoiPrologueVariant {
  /** Number of feature (or gradient) maps bound (1 to 4). */
  levels: number;
  /** Choose the level of each RoI with the FPN level mapper (else level 0). */
  mapLevels: boolean;
}

/**
 * The per-RoI prologue: `fn roiSetup(r) -> RoiSetup` reads RoI r of `rois [R, 5]` and returns whether it
 * pools at all (batch index in [0, N), a level in range), its batch, level, map size and torchvision's
 * sampling grid; `fn roiBin(idx) -> vec4u` decodes an element index of `[R, outH, outW, cv]` into
 * (c, pw, ph, r). Needs `p: Params`, `rois` and `ROI_GRID_WGSL` (shaders/roi_sampling.wgsl.ts) declared.
 *
 * @example
 * ```ts
 * import { roiPrologueWgsl } from "./roi_align_common.wgsl.ts";
 * console.log(roiPrologueWgsl({ levels: 4, mapLevels: true }).includes("fn roiSetup"));
 * ```
 */
export function roiPrologueWgsl({ levels, mapLevels }: RoiPrologueVariant): string {
  return /* wgsl */ `
${mapLevels ? LEVEL_MAPPER_WGSL : ""}
struct RoiSetup { ok: bool, b: u32, l: u32, h: u32, w: u32, g: RoiGrid }

fn roiSetup(r: u32) -> RoiSetup {
  var s: RoiSetup;
  let b = i32(rois[r * 5u]);
  let x1 = rois[r * 5u + 1u];
  let y1 = rois[r * 5u + 2u];
  let x2 = rois[r * 5u + 3u];
  let y2 = rois[r * 5u + 4u];
  ${mapLevels ? "let li = mapLevel(x1, y1, x2, y2);" : "let li = 0;"}
  s.ok = !(li < 0 || li >= ${levels} || b < 0 || u32(b) >= p.batch);
  if (!s.ok) { return s; }
  s.b = u32(b);
  s.l = u32(li);
  s.h = p.height[s.l];
  s.w = p.width[s.l];
  s.g = roiGrid(x1, y1, x2, y2, p.scale[s.l], p.aligned != 0u, p.outH, p.outW, p.sampling);
  return s;
}

fn roiBin(idx: u32) -> vec4u {
  let bin = idx / p.cv;
  return vec4u(idx % p.cv, bin % p.outW, (bin / p.outW) % p.outH, bin / (p.outW * p.outH));
}`;
}

/**
 * `fn load(l, i)`: element i of feature map l of `levels` maps bound as `f0..f{levels-1}` (WGSL cannot
 * index bindings dynamically; the branch is uniform per RoI).
 *
 * @example
 * ```ts
 * import { levelLoadWgsl } from "./roi_align_common.wgsl.ts";
 * console.log(levelLoadWgsl(4, "vec4f").includes("f3[i]"));
 * ```
 */
export function levelLoadWgsl(levels: number, scalar: string): string {
  const lines = [];
  for (let l = 0; l < levels - 1; l++) lines.push(`  if (l == ${l}u) { return f${l}[i]; }`);
  return `fn load(l: u32, i: u32) -> ${scalar} {\n${lines.join("\n")}\n  return f${levels - 1}[i];\n}`;
}

/** `Params` fields of {@link OCCUPIED_ROWS_WGSL}: which RoI rows hold real work (packed by ops). */
export const OCCUPIED_FIELDS_WGSL = "segments: u32, stride: u32, countIndex: u32, _o: u32,";

/**
 * `fn rowInUse(r) -> bool`: whether RoI row r holds real work — every row when `p.segments` is 0, else
 * `segments` blocks of `stride` rows of which the first `counts[countIndex + b]` are in use (ops/kernel.ts's
 * `OccupiedRows`). The backward kernels skip the other rows: a bounded dispatch may still run the rows
 * after the last occupied one up to its workgroup's end, and their gradOut holds stale values.
 *
 * @example
 * ```ts
 * import { OCCUPIED_ROWS_WGSL } from "./roi_align_common.wgsl.ts";
 * console.log(OCCUPIED_ROWS_WGSL.includes("fn rowInUse"));
 * ```
 */
export const OCCUPIED_ROWS_WGSL = /* wgsl */ `
fn rowInUse(r: u32) -> bool {
  if (p.segments == 0u) { return true; }
  let seg = r / p.stride;
  return seg < p.segments && r % p.stride < counts[p.countIndex + seg];
}`;
