/**
 * WGSL of the deterministic RoIAlign backward (torchvision 0.14's `roi_align_backward_kernel` as a
 * gather): every element of a gradient map is written by ONE invocation that sums, in a fixed order, the
 * contributions of the RoI samples whose bilinear taps include it. No float atomics, so the result is the
 * same bit for bit on every run, however the adapter schedules workgroups.
 *
 * Two passes per call (see ops/roi_align_gather.ts):
 * 1. `mark`, one invocation per RoI row in use: the pixel rectangle its samples can touch on its level
 *    (the range of sample positions, widened by a pixel each side, clamped to the map) is split in
 *    `ROI_TILE`×`ROI_TILE` tiles, and the RoI sets its bit in each tile's RoI bitmask (`atomicOr`: exact
 *    and order-free). A tile's record is `summaries` words (bit k: word k of the mask is non-zero) then
 *    `words` = ceil(R / 32) mask words, so empty tiles cost one read.
 * 2. `gather`, one invocation per pixel (b, y, x) and group of channel units of one level's map: walks the
 *    RoIs of its tile in increasing index, and for each one the bins whose samples can reach row y (column
 *    x). The bilinear weight is separable, `w = wy(sample row) · wx(sample column)`, each the torchvision
 *    tap weight of that axis (hy or ly, clamped into the map, 0 outside [-1, H]), so a bin's weight is
 *    `Σ wy · Σ wx` over its samples and the RoI adds `Σ_bins wy · wx · gradOut[r, ph, pw, c] / count`.
 *    The RoI was marked in this (image, level) tile, so neither its level nor its image is recomputed.
 *
 * Both passes share the forward's uniform layout and RoI prologue (`roi_align_common.wgsl.ts`), with the
 * tile fields appended.
 * @module
 */
import {
  OCCUPIED_FIELDS_WGSL,
  OCCUPIED_ROWS_WGSL,
  ROI_WORKGROUP,
  roiAlignParamsWgsl,
  roiPrologueWgsl,
} from "./roi_align_common.wgsl.ts";
import { ROI_GRID_WGSL } from "./roi_sampling.wgsl.ts";

/** Side of the square map tiles whose RoI lists the gather walks. */
export const ROI_TILE = 4;

/** Static variants of the gather kernels (each compiles once). */
export interface RoiAlignGatherVariant {
  /** gradOut / gradient channels as vec4 (C % 4 == 0) or scalars. */
  vec4: boolean;
  /** Number of levels the RoIs are mapped to (1 to 4). */
  levels: number;
  /** Choose the level of each RoI with the FPN level mapper (else level 0). */
  mapLevels: boolean;
}

const TILE_FIELDS = `maskBase: vec4u, tilesX: vec4u, tilesY: vec4u,
  words: u32, summaries: u32, level: u32, accumulate: u32,
  ${OCCUPIED_FIELDS_WGSL}`;

/** Sample positions along one axis, shared by both passes (the forward's expression, term for term). */
const SAMPLE_WGSL = /* wgsl */ `
const TILE = ${ROI_TILE}u;
// Sample k (= bin · grid + i) of an axis: start + bin · binSize + (i + 0.5) · binSize / grid.
fn samplePos(start: f32, binSize: f32, grid: i32, k: i32) -> f32 {
  let bin = k / grid;
  return start + f32(bin) * binSize + (f32(k - bin * grid) + 0.5) * binSize / f32(grid);
}`;

/**
 * The marking pass. Bindings: 1 `rois [R, 5]`, 2 `counts` u32, 3 `mask` (u32, zero-filled, atomics).
 *
 * @example
 * ```ts
 * import { roiAlignMarkWgsl } from "./roi_align_gather.wgsl.ts";
 * console.log(roiAlignMarkWgsl({ vec4: true, levels: 4, mapLevels: true }).includes("atomicOr"));
 * ```
 */
export function roiAlignMarkWgsl({ levels, mapLevels }: RoiAlignGatherVariant): string {
  return /* wgsl */ `
${roiAlignParamsWgsl(TILE_FIELDS)}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> rois: array<f32>;
@group(0) @binding(2) var<storage, read> counts: array<u32>;
@group(0) @binding(3) var<storage, read_write> mask: array<atomic<u32>>;
${ROI_GRID_WGSL}
${roiPrologueWgsl({ levels, mapLevels })}
${OCCUPIED_ROWS_WGSL}
${SAMPLE_WGSL}

// Tiles [t0, t1] along an axis of size n that samples 0..count-1 can reach (first and last sample ± 1 px).
fn tileRange(start: f32, binSize: f32, grid: i32, count: i32, n: u32) -> vec2u {
  let a = samplePos(start, binSize, grid, 0);
  let b = samplePos(start, binSize, grid, count - 1);
  let top = f32(n - 1u);
  let lo = clamp(floor(min(a, b)) - 1.0, 0.0, top);
  let hi = clamp(floor(max(a, b)) + 2.0, 0.0, top);
  return vec2u(u32(lo) / TILE, u32(hi) / TILE);
}

@compute @workgroup_size(${ROI_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(num_workgroups) nwg: vec3u) {
  let r = (wid.y * nwg.x + wid.x) * ${ROI_WORKGROUP}u + lid.x;
  if (r >= p.rois || !rowInUse(r)) { return; }
  let s = roiSetup(r);
  let ny = i32(p.outH) * s.g.gridH;
  let nx = i32(p.outW) * s.g.gridW;
  if (!s.ok || ny <= 0 || nx <= 0) { return; }
  let ty = tileRange(s.g.startH, s.g.binH, s.g.gridH, ny, s.h);
  let tx = tileRange(s.g.startW, s.g.binW, s.g.gridW, nx, s.w);
  let word = r / 32u;
  let record = p.summaries + p.words;
  for (var y = ty.x; y <= ty.y; y++) {
    for (var x = tx.x; x <= tx.y; x++) {
      let base = p.maskBase[s.l] + ((s.b * p.tilesY[s.l] + y) * p.tilesX[s.l] + x) * record;
      atomicOr(&mask[base + p.summaries + word], 1u << (r % 32u));
      atomicOr(&mask[base + word / 32u], 1u << (word % 32u));
    }
  }
}
`;
}

/**
 * Channel units (vec4 or scalar) one gather invocation sums: the most of 16, 8, 4 vec4 that divide `cv`
 * (the RoI geometry, recomputed per invocation, is then shared by up to 64 channels: on lavapipe 16 units
 * ran the R50-FPN box-head backward 3.5× faster than 4), else 1.
 *
 * @example
 * ```ts
 * import { gatherUnits } from "./roi_align_gather.wgsl.ts";
 * console.log(gatherUnits(true, 64), gatherUnits(true, 6), gatherUnits(false, 3)); // 16 1 1
 * ```
 */
export function gatherUnits(vec4: boolean, cv: number): number {
  if (!vec4) return 1;
  return [16, 8, 4].find((u) => cv % u === 0) ?? 1;
}

/**
 * The gather pass over level `p.level`. Bindings: 1 `rois [R, 5]`, 2 `gradOut [R, outH, outW, C]`,
 * 3 `mask` (u32, from the marking pass), 4 `grad [N, H, W, C]` (written, or added to when `accumulate`).
 * One invocation sums `units` consecutive channel units of one pixel, so the RoI geometry is computed
 * once for all of them.
 *
 * @example
 * ```ts
 * import { roiAlignGatherWgsl } from "./roi_align_gather.wgsl.ts";
 * console.log(roiAlignGatherWgsl({ vec4: true, levels: 4, mapLevels: true }, 4).includes("fn tapWeight"));
 * ```
 */
export function roiAlignGatherWgsl(
  { vec4, levels, mapLevels }: RoiAlignGatherVariant,
  units: number,
): string {
  const V = vec4 ? "vec4f" : "f32";
  return /* wgsl */ `
${roiAlignParamsWgsl(TILE_FIELDS)}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> rois: array<f32>;
@group(0) @binding(2) var<storage, read> gradOut: array<${V}>;
@group(0) @binding(3) var<storage, read> mask: array<u32>;
@group(0) @binding(4) var<storage, read_write> grad: array<${V}>;
${ROI_GRID_WGSL}
${roiPrologueWgsl({ levels, mapLevels })}
${SAMPLE_WGSL}
const UNITS = ${units}u;
const BINS = 8; // bin rows weighed at once

// The weight with which a sample at \`pos\` reaches pixel \`at\` of an axis of size n (torchvision's
// bilinear_interpolate_gradient along one axis: none outside [-1, n], clamped into the map, hy to the low
// tap and ly to the high one).
fn tapWeight(pos: f32, at: u32, n: u32) -> f32 {
  if (pos < -1.0 || pos > f32(n)) { return 0.0; }
  var v = max(pos, 0.0);
  var lo = u32(v);
  var hi = lo + 1u;
  if (lo >= n - 1u) { lo = n - 1u; hi = lo; v = f32(lo); }
  let l = v - f32(lo);
  return select(0.0, 1.0 - l, lo == at) + select(0.0, l, hi == at);
}

// Bins [b0, b1] of an axis (\`bins\` bins of \`grid\` samples) holding a sample that may lie within one
// pixel of \`at\` (a superset: the weights decide); all of them when the step is not positive.
fn binWindow(start: f32, binSize: f32, grid: i32, bins: i32, at: u32) -> vec2i {
  let step = binSize / f32(grid);
  if (!(step > 0.0)) { return vec2i(0, bins - 1); }
  let count = f32(bins * grid);
  let lo = clamp(floor((f32(at) - 1.0 - start) / step - 0.5) - 1.0, 0.0, count);
  let hi = clamp(ceil((f32(at) + 1.0 - start) / step - 0.5) + 1.0, -1.0, count - 1.0);
  if (hi < lo) { return vec2i(1, 0); }
  return vec2i(i32(lo) / grid, i32(hi) / grid);
}

// Σ over the bin's samples of their weight at pixel \`at\` (the bilinear weight is separable).
fn binWeight(start: f32, binSize: f32, grid: i32, bin: i32, at: u32, n: u32) -> f32 {
  var w = 0.0;
  for (var i = 0; i < grid; i++) { w += tapWeight(samplePos(start, binSize, grid, bin * grid + i), at, n); }
  return w;
}

var<private> acc: array<${V}, ${units}>;

// Adds RoI r's gradient at pixel (y, x) of map [h, w], channel units c0.., to \`acc\`:
// Σ_pw wx(pw) · Σ_ph wy(ph) · gradOut[r, ph, pw, c] / count.
fn addRoi(r: u32, y: u32, x: u32, c0: u32, h: u32, w: u32) {
  let g = roiGrid(rois[r * 5u + 1u], rois[r * 5u + 2u], rois[r * 5u + 3u], rois[r * 5u + 4u],
                  p.scale[p.level], p.aligned != 0u, p.outH, p.outW, p.sampling);
  let by = binWindow(g.startH, g.binH, g.gridH, i32(p.outH), y);
  let bx = binWindow(g.startW, g.binW, g.gridW, i32(p.outW), x);
  for (var ph0 = by.x; ph0 <= by.y; ph0 += BINS) {
    let rows = min(BINS, by.y - ph0 + 1);
    var wy: array<f32, BINS>;
    for (var j = 0; j < rows; j++) { wy[j] = binWeight(g.startH, g.binH, g.gridH, ph0 + j, y, h); }
    for (var pw = bx.x; pw <= bx.y; pw++) {
      let wx = binWeight(g.startW, g.binW, g.gridW, pw, x, w) / g.count;
      if (wx == 0.0) { continue; }
      for (var j = 0; j < rows; j++) {
        if (wy[j] == 0.0) { continue; }
        let f = wx * wy[j];
        let at = ((r * p.outH + u32(ph0 + j)) * p.outW + u32(pw)) * p.cv + c0;
        for (var u = 0u; u < UNITS; u++) { acc[u] += f * gradOut[at + u]; }
      }
    }
  }
}

@compute @workgroup_size(${ROI_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(num_workgroups) nwg: vec3u) {
  let idx = (wid.y * nwg.x + wid.x) * ${ROI_WORKGROUP}u + lid.x;
  if (idx >= p.total) { return; }
  let l = p.level;
  let h = p.height[l];
  let w = p.width[l];
  let chunks = p.cv / UNITS;
  let c0 = (idx % chunks) * UNITS;
  let pixel = idx / chunks;
  let x = pixel % w;
  let y = (pixel / w) % h;
  let b = pixel / (w * h);
  let base = p.maskBase[l] + ((b * p.tilesY[l] + y / TILE) * p.tilesX[l] + x / TILE) * (p.summaries + p.words);
  for (var u = 0u; u < UNITS; u++) { acc[u] = ${V}(0.0); }
  for (var sw = 0u; sw < p.summaries; sw++) {
    var nonEmpty = mask[base + sw];
    while (nonEmpty != 0u) {
      let word = sw * 32u + firstTrailingBit(nonEmpty);
      nonEmpty &= nonEmpty - 1u;
      var bits = mask[base + p.summaries + word];
      while (bits != 0u) {
        addRoi(word * 32u + firstTrailingBit(bits), y, x, c0, h, w);
        bits &= bits - 1u;
      }
    }
  }
  let at = pixel * p.cv + c0;
  for (var u = 0u; u < UNITS; u++) {
    if (p.accumulate != 0u) { acc[u] += grad[at + u]; }
    grad[at + u] = acc[u];
  }
}
`;
}
