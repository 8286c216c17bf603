// Resize transforms against PyTorch (fixture tests/fixtures/data/torch_resize.json written by
// tools/reference/make_tfrecord_fixtures.py with torch 1.13) and a float64 reference written here.
import assert from "node:assert/strict";
import {
  minMaxResizeSize,
  resizeBilinear,
  resizeImage,
  resizeItem,
  resizeMasksNearest,
  resizeMinMax,
} from "../../data/transforms_resize.ts";
import { Rng } from "../../data/prng.ts";

interface Case {
  in_h: number;
  in_w: number;
  out_h: number;
  out_w: number;
  input: number[];
  output: number[];
}
const TORCH = JSON.parse(
  await Deno.readTextFile(new URL("../fixtures/data/torch_resize.json", import.meta.url)),
) as {
  bilinear: Case[];
  nearest: Case[];
  min_max_sizes: { h: number; w: number; min_size: number; max_size: number; out_h: number; out_w: number }[];
};

Deno.test("bilinear resize matches torch F.interpolate(align_corners=False)", () => {
  for (const c of TORCH.bilinear) {
    const got = resizeBilinear(Float32Array.from(c.input), c.in_h, c.in_w, 3, c.out_h, c.out_w);
    assert.equal(got.length, c.output.length);
    for (let i = 0; i < got.length; i++) {
      assert.ok(
        Math.abs(got[i] - c.output[i]) < 1e-3,
        `case ${c.in_h}x${c.in_w}->${c.out_h}x${c.out_w} at ${i}`,
      );
    }
  }
});

Deno.test("nearest mask resize matches torch F.interpolate(mode='nearest')", () => {
  for (const c of TORCH.nearest) {
    const got = resizeMasksNearest(Uint8Array.from(c.input), 1, c.in_h, c.in_w, c.out_h, c.out_w);
    assert.deepEqual(got, Uint8Array.from(c.output), `case ${c.in_h}x${c.in_w}->${c.out_h}x${c.out_w}`);
  }
});

Deno.test("min/max resize sizes match torchvision GeneralizedRCNNTransform", () => {
  for (const c of TORCH.min_max_sizes) {
    const got = minMaxResizeSize(c.h, c.w, c.min_size, c.max_size);
    assert.deepEqual([got.height, got.width], [c.out_h, c.out_w], `${c.h}x${c.w}`);
  }
});

/** Float64 reference: align_corners=False bilinear sampling, written pixel by pixel from the definition. */
function referenceBilinear(src: Uint8Array, h: number, w: number, oh: number, ow: number): Float64Array {
  const out = new Float64Array(oh * ow * 3);
  const sample = (y: number, x: number, c: number) => src[(y * w + x) * 3 + c];
  for (let y = 0; y < oh; y++) {
    const sy = Math.max((y + 0.5) * (h / oh) - 0.5, 0);
    const y0 = Math.floor(sy), y1 = Math.min(y0 + 1, h - 1), fy = sy - y0;
    for (let x = 0; x < ow; x++) {
      const sx = Math.max((x + 0.5) * (w / ow) - 0.5, 0);
      const x0 = Math.floor(sx), x1 = Math.min(x0 + 1, w - 1), fx = sx - x0;
      for (let c = 0; c < 3; c++) {
        const top = sample(y0, x0, c) * (1 - fx) + sample(y0, x1, c) * fx;
        const bottom = sample(y1, x0, c) * (1 - fx) + sample(y1, x1, c) * fx;
        out[(y * ow + x) * 3 + c] = top * (1 - fy) + bottom * fy;
      }
    }
  }
  return out;
}

Deno.test("RGB image resize equals the float64 reference rounded to bytes", () => {
  const rng = new Rng(3);
  const h = 17, w = 23;
  const data = Uint8Array.from({ length: h * w * 3 }, () => rng.int(0, 255));
  for (const [oh, ow] of [[9, 12], [40, 31], [17, 50]]) {
    const got = resizeImage({ data, width: w, height: h }, oh, ow);
    const ref = referenceBilinear(data, h, w, oh, ow);
    let maxErr = 0;
    for (let i = 0; i < ref.length; i++) maxErr = Math.max(maxErr, Math.abs(got.data[i] - ref[i]));
    assert.ok(maxErr <= 0.5 + 1e-3, `max error ${maxErr} for ${oh}x${ow}`);
  }
});

Deno.test("resizeItem scales boxes per axis and resizes masks to the new image size", () => {
  const item = {
    image: { data: new Uint8Array(10 * 20 * 3).fill(7), width: 20, height: 10 },
    target: {
      boxes: new Float32Array([2, 1, 12, 9]),
      labels: new Int32Array([2]),
      masks: Uint8Array.from({ length: 200 }, (_, i) => (i % 20 >= 2 && i % 20 < 12 ? 1 : 0)),
    },
  };
  const out = resizeItem(item, 15, 50);
  assert.deepEqual(out.target.boxes, new Float32Array([5, 1.5, 30, 13.5]));
  assert.equal(out.target.masks!.length, 15 * 50);
  assert.equal(out.image.width, 50);
  // Mask columns 2..11 of 20 map onto columns 5..29 of 50 under nearest.
  const row = Array.from(out.target.masks!.subarray(0, 50));
  assert.equal(row.indexOf(1), 5);
  assert.equal(row.lastIndexOf(1), 29);
  const r = resizeMinMax(item, 30, 50);
  assert.deepEqual([r.image.height, r.image.width], [25, 50]);
});
