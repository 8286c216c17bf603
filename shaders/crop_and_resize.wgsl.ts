/**
 * WGSL of TensorFlow's `tf.image.crop_and_resize` (bilinear, CPU kernel formula of
 * tensorflow/core/kernels/image/crop_and_resize_op.cc) over NHWC maps, and of matterport Mask R-CNN's
 * `PyramidROIAlign`, which is crop_and_resize from the P2–P5 level each box maps to.
 *
 * Same layout as `roi_align.wgsl.ts`: one invocation per output element (r, y, x, c4) of
 * `out [R, cropH, cropW, C]`, channels innermost (vec4 when C % 4 == 0), four taps per element. A backward
 * pass would scatter `grad * lerp weights` into the four taps exactly like RoIAlign's (see there).
 * @module
 */
import { MAIN_1D_ARGS, NHWC_COORDS_WGSL } from "./common.wgsl.ts";

/** Invocations per workgroup of the crop-and-resize kernel. */
export const CROP_WORKGROUP = 64;

// Element i of map l of those bound as f0..f3 (WGSL cannot index bindings; the branch is uniform per box).
function loadFn(levels: number, scalar: string): string {
  const lines = [];
  for (let l = 0; l < levels - 1; l++) lines.push(`  if (l == ${l}u) { return f${l}[i]; }`);
  return `fn load(l: u32, i: u32) -> ${scalar} {\n${lines.join("\n")}\n  return f${levels - 1}[i];\n}`;
}

/** Static variants of the crop-and-resize kernel. */
export interface CropAndResizeVariant {
  /** Channels as vec4 (C % 4 == 0) or scalars. */
  vec4: boolean;
  /** 1 map (plain crop_and_resize) or 4 maps P2–P5 with matterport's level mapping. */
  levels: 1 | 4;
}

/**
 * The kernel. Bindings: 1 `boxes [R, 4]` (y1, x1, y2, x2 normalised), 2 `boxIndices [R]`, then the maps,
 * then `out`. matterport's level: `clamp(4 + round(log(sqrt(h·w) / (224 / sqrt(imageArea))) / log(2)), 2, 5)`
 * with TF's round-half-to-even (WGSL `round` is the same); a box of area <= 0 maps to P2 (TF casts the NaN
 * or −inf to INT_MIN on x86 before the clamp).
 *
 * @example
 * ```ts
 * import { cropAndResizeWgsl } from "./crop_and_resize.wgsl.ts";
 * console.log(cropAndResizeWgsl({ vec4: false, levels: 1 }).includes("fn main"));
 * ```
 */
export function cropAndResizeWgsl({ vec4, levels }: CropAndResizeVariant): string {
  const V = vec4 ? "vec4f" : "f32";
  const feats = Array.from(
    { length: levels },
    (_, l) => `@group(0) @binding(${l + 3}) var<storage, read> f${l}: array<${V}>;`,
  ).join("\n");
  const level = levels === 1 ? "let l = 0u;" : /* wgsl */ `
  let area = (y2 - y1) * (x2 - x1);
  var l = 0u;
  if (area > 0.0) {
    let lvl = 4.0 + round(log(sqrt(area) / (224.0 / sqrt(p.imageArea))) / log(2.0));
    l = u32(clamp(lvl, 2.0, 5.0)) - 2u;
  }`;
  return /* wgsl */ `
struct Params {
  boxes: u32, cropH: u32, cropW: u32, cv: u32,
  batch: u32, total: u32, extrapolation: f32, imageArea: f32,
  offset: u32, _p0: u32, _p1: u32, _p2: u32,
  height: vec4u, width: vec4u,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> boxes: array<f32>;
@group(0) @binding(2) var<storage, read> boxIndices: array<i32>;
${feats}
@group(0) @binding(${levels + 3}) var<storage, read_write> out: array<${V}>; // from element p.offset
${loadFn(levels, V)}
${NHWC_COORDS_WGSL}
@compute @workgroup_size(${CROP_WORKGROUP})
fn main(${MAIN_1D_ARGS}) {
  let local = (wid.y * nwg.x + wid.x) * ${CROP_WORKGROUP}u + lid.x; // within this dispatch's range
  if (local >= p.total) { return; }
  let idx = p.offset + local;
  let q = nhwcCoords(idx, p.cropH, p.cropW, p.cv);
  let r = q.x;
  let py = q.y;
  let px = q.z;
  let c = q.w;
  let b = boxIndices[r];
  let y1 = boxes[r * 4u];
  let x1 = boxes[r * 4u + 1u];
  let y2 = boxes[r * 4u + 2u];
  let x2 = boxes[r * 4u + 3u];
  ${level}
  let h1 = f32(p.height[l] - 1u);
  let w1 = f32(p.width[l] - 1u);
  var inY = 0.5 * (y1 + y2) * h1;
  var inX = 0.5 * (x1 + x2) * w1;
  if (p.cropH > 1u) { inY = y1 * h1 + f32(py) * ((y2 - y1) * h1 / f32(p.cropH - 1u)); }
  if (p.cropW > 1u) { inX = x1 * w1 + f32(px) * ((x2 - x1) * w1 / f32(p.cropW - 1u)); }
  if (b < 0 || u32(b) >= p.batch || inY < 0.0 || inY > h1 || inX < 0.0 || inX > w1) {
    out[local] = ${V}(p.extrapolation);
    return;
  }
  let top = u32(floor(inY));
  let bottom = u32(ceil(inY));
  let left = u32(floor(inX));
  let right = u32(ceil(inX));
  let yLerp = inY - f32(top);
  let xLerp = inX - f32(left);
  let w = p.width[l];
  let base = u32(b) * p.height[l] * w;
  let tl = load(l, (base + top * w + left) * p.cv + c);
  let tr = load(l, (base + top * w + right) * p.cv + c);
  let bl = load(l, (base + bottom * w + left) * p.cv + c);
  let br = load(l, (base + bottom * w + right) * p.cv + c);
  let t = tl + (tr - tl) * xLerp;
  let btm = bl + (br - bl) * xLerp;
  out[local] = t + (btm - t) * yLerp;
}
`;
}
