/**
 * WGSL of torchvision's `paste_masks_in_image` as ONE pass over the output pixels. For output pixel
 * (r, y, x): expand box r by (M + 2p) / M around its centre and truncate it to integers (`expand_boxes`,
 * `.to(int64)`), and if (x, y) lies in the integer box, bilinearly sample (align_corners=False, source
 * index clamped at 0) the mask zero-padded by p pixels, resized to the box's (h, w) = (y2 − y1 + 1,
 * x2 − x1 + 1): this is `F.interpolate` followed by the clipped paste, evaluated only where it lands.
 *
 * Layout: one invocation per 4 consecutive pixels of the flat [R, H, W] output (outputs bound from word
 * `wordOffset` on, so that outputs above the binding limit take several dispatches; output plane i pastes
 * mask and box row `firstRow + i`); it writes 4 f32
 * probabilities (optional) and one u32 holding the 4 binary bytes (p >= threshold), so the binary output is
 * an [R, H, W] u8 array packed in little-endian words. Pixels outside their box load nothing.
 * @module
 */
import { MAIN_1D_ARGS } from "./common.wgsl.ts";

/** Invocations per workgroup of the paste kernel (each handles 4 pixels). */
export const PASTE_WORKGROUP = 256;

/**
 * The paste kernel. Bindings: 1 `masks [R, M, M]`, 2 `boxes [R, 4]`, 3 `binary` (packed u8), and with
 * `probabilities` 4 `probs [R, H, W]`.
 *
 * @example
 * ```ts
 * import { pasteMasksWgsl } from "./paste_masks.wgsl.ts";
 * console.log(pasteMasksWgsl(true).includes("probs"));
 * ```
 */
export function pasteMasksWgsl(probabilities: boolean): string {
  return /* wgsl */ `
struct Params {
  rois: u32, m: u32, pad: u32, height: u32,
  width: u32, pixels: u32, words: u32, scale: f32,
  threshold: f32, wordOffset: u32, firstRow: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> masks: array<f32>;
@group(0) @binding(2) var<storage, read> boxes: array<f32>;
@group(0) @binding(3) var<storage, read_write> binary: array<u32>;
${probabilities ? "@group(0) @binding(4) var<storage, read_write> probs: array<f32>;" : ""}

// Padded mask value at (i, j) of the (M + 2·pad)² grid of mask row r.
fn padded(r: u32, i: u32, j: u32) -> f32 {
  if (i < p.pad || j < p.pad || i >= p.m + p.pad || j >= p.m + p.pad) { return 0.0; }
  return masks[(r * p.m + (i - p.pad)) * p.m + (j - p.pad)];
}

// torch's area_pixel_compute_source_index (align_corners=False, linear): index, neighbour, weight.
fn source(dst: i32, outSize: i32, inSize: u32) -> vec3f {
  let ratio = f32(inSize) / f32(outSize);
  let real = max(ratio * (f32(dst) + 0.5) - 0.5, 0.0);
  let i0 = u32(real);
  let i1 = select(i0, i0 + 1u, i0 < inSize - 1u);
  return vec3f(f32(i0), f32(i1), real - f32(i0));
}

fn pixel(q: u32) -> f32 {
  let r = p.firstRow + q / (p.height * p.width); // row of masks and boxes
  let y = i32((q / p.width) % p.height);
  let x = i32(q % p.width);
  let x1 = boxes[r * 4u];
  let y1 = boxes[r * 4u + 1u];
  let x2 = boxes[r * 4u + 2u];
  let y2 = boxes[r * 4u + 3u];
  let wHalf = ((x2 - x1) * 0.5) * p.scale;
  let hHalf = ((y2 - y1) * 0.5) * p.scale;
  let xc = (x2 + x1) * 0.5;
  let yc = (y2 + y1) * 0.5;
  let bx1 = i32(xc - wHalf);
  let bx2 = i32(xc + wHalf);
  let by1 = i32(yc - hHalf);
  let by2 = i32(yc + hHalf);
  if (x < bx1 || x > bx2 || y < by1 || y > by2) { return 0.0; }
  let size = p.m + 2u * p.pad;
  let sy = source(y - by1, max(by2 - by1 + 1, 1), size);
  let sx = source(x - bx1, max(bx2 - bx1 + 1, 1), size);
  let top = (1.0 - sx.z) * padded(r, u32(sy.x), u32(sx.x)) + sx.z * padded(r, u32(sy.x), u32(sx.y));
  let bottom = (1.0 - sx.z) * padded(r, u32(sy.y), u32(sx.x)) + sx.z * padded(r, u32(sy.y), u32(sx.y));
  return (1.0 - sy.z) * top + sy.z * bottom;
}

@compute @workgroup_size(${PASTE_WORKGROUP})
fn main(${MAIN_1D_ARGS}) {
  let t = (wid.y * nwg.x + wid.x) * ${PASTE_WORKGROUP}u + lid.x; // word within this dispatch's range
  if (t >= p.words) { return; }
  var word = 0u;
  for (var k = 0u; k < 4u; k++) {
    let q = (p.wordOffset + t) * 4u + k;
    if (q < p.pixels) {
      let v = pixel(q);
      ${probabilities ? "probs[t * 4u + k] = v;" : ""}
      word |= select(0u, 1u, v >= p.threshold) << (8u * k);
    }
  }
  binary[t] = word;
}
`;
}
