/**
 * WGSL of torchvision's GeneralizedRCNNTransform for one image: normalise `(byte / 255 − mean) / std`,
 * bilinear resize (`align_corners=False`, torch's source index `max(scale·(dst + 0.5) − 0.5, 0)` with
 * `scale = in / out` from the floored output size), and write into the image's slot of the zero-padded
 * NHWC batch. The four taps are normalised before they are interpolated, torch's order. Input: RGB or
 * RGBA bytes packed four to a u32 word (little-endian), row-major HWC. One thread per padded pixel.
 * @module
 */
import { LINEAR_INDEX_WGSL, MAIN_1D_ARGS, WORKGROUP_1D } from "./common.wgsl.ts";

/**
 * The normalise + resize + pad kernel.
 *
 * @example
 * ```ts
 * import { IMAGE_TRANSFORM_WGSL } from "./image_transform.wgsl.ts";
 * console.log(IMAGE_TRANSFORM_WGSL.includes("fn tap"));
 * ```
 */
export const IMAGE_TRANSFORM_WGSL = /* wgsl */ `
struct Params {
  src_h: u32, src_w: u32, channels: u32, image: u32,
  out_h: u32, out_w: u32, pad_h: u32, pad_w: u32,
  scale_h: f32, scale_w: f32, _p0: u32, _p1: u32,
  mean: vec4<f32>,
  stdev: vec4<f32>,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
${LINEAR_INDEX_WGSL}

// Normalised RGB of source pixel (y, x).
fn tap(y: u32, x: u32) -> vec3<f32> {
  let k = (y * p.src_w + x) * p.channels;
  var rgb: vec3<f32>;
  for (var c = 0u; c < 3u; c++) {
    let b = k + c;
    rgb[c] = f32((src[b >> 2u] >> ((b & 3u) * 8u)) & 255u) / 255.0;
  }
  return (rgb - p.mean.xyz) / p.stdev.xyz;
}

// Source indices (i0, i1) and weights (l0, l1) along one axis, as torch's compute_source_index_and_lambda.
fn axis(dst: u32, size: u32, scale: f32) -> vec4<f32> {
  let real = max(scale * (f32(dst) + 0.5) - 0.5, 0.0);
  let i0 = min(u32(real), size - 1u);
  let i1 = select(i0, i0 + 1u, i0 < size - 1u);
  let l1 = clamp(real - f32(i0), 0.0, 1.0);
  return vec4<f32>(f32(i0), f32(i1), 1.0 - l1, l1);
}

@compute @workgroup_size(${WORKGROUP_1D})
fn main(${MAIN_1D_ARGS}) {
  let i = linearIndex(wid, lid, nwg);
  if (i >= p.pad_h * p.pad_w) { return; }
  let oy = i / p.pad_w;
  let ox = i % p.pad_w;
  let o = ((p.image * p.pad_h + oy) * p.pad_w + ox) * 3u;
  var v = vec3<f32>(0.0);
  if (oy < p.out_h && ox < p.out_w) {
    let ay = axis(oy, p.src_h, p.scale_h);
    let ax = axis(ox, p.src_w, p.scale_w);
    let y0 = u32(ay.x);
    let y1 = u32(ay.y);
    let x0 = u32(ax.x);
    let x1 = u32(ax.y);
    v = ay.z * (ax.z * tap(y0, x0) + ax.w * tap(y0, x1)) + ay.w * (ax.z * tap(y1, x0) + ax.w * tap(y1, x1));
  }
  out[o] = v.x;
  out[o + 1u] = v.y;
  out[o + 2u] = v.z;
}
`;
