import assert from "node:assert/strict";
import { decodeImage } from "../../data/image_codec.ts";
import { drawDetections, instanceColor } from "../../data/draw.ts";
import { rng } from "../_util.ts";

function randomImage(width: number, height: number, seed: number): Uint8Array {
  const next = rng(seed);
  return Uint8Array.from({ length: width * height * 3 }, () => 20 + Math.floor(200 * next()));
}

Deno.test("drawDetections tints masks, outlines boxes and labels them; the PNG decodes to the same pixels", async () => {
  const width = 97, height = 61;
  const data = randomImage(width, height, 3);
  const masks = new Uint8Array(2 * width * height);
  // Instance 0: a disc; instance 1: a rectangle overlapping it.
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if ((x - 30) ** 2 + (y - 35) ** 2 < 15 ** 2) masks[y * width + x] = 1;
      if (x >= 50 && x < 80 && y >= 30 && y < 55) masks[width * height + y * width + x] = 1;
    }
  }
  const result = {
    count: 2,
    boxes: new Float32Array([15, 20, 45, 50, 50, 30, 79, 54]),
    scores: new Float32Array([0.987, 0.51]),
    labels: new Int32Array([1, 2]),
    masks,
  };
  const alpha = 0.5;
  const png = drawDetections({ data, width, height }, result, {
    classNames: ["bg", "circle", "square"],
    maskAlpha: alpha,
    lineWidth: 1,
    textScale: 1,
  });
  const decoded = await decodeImage(png);
  assert.equal(decoded.width, width);
  assert.equal(decoded.height, height);
  const px = (x: number, y: number) =>
    Array.from(decoded.data.subarray(3 * (y * width + x), 3 * (y * width + x) + 3));
  const original = (x: number, y: number) =>
    Array.from(data.subarray(3 * (y * width + x), 3 * (y * width + x) + 3));
  // Inside the disc, away from box edges and labels: the blend of the pixel and colour 0.
  const c0 = instanceColor(0);
  assert.deepEqual(px(30, 38), original(30, 38).map((v, c) => Math.round((1 - alpha) * v + alpha * c0[c])));
  // Box edges take the instance colour.
  assert.deepEqual(px(45, 40), c0);
  assert.deepEqual(px(79, 50), instanceColor(1));
  // Outside every instance the picture is untouched.
  assert.deepEqual(px(90, 5), original(90, 5));
  // The label strip above box 0 holds both the colour and the ink of the text.
  const strip = [];
  for (let x = 15; x < 75; x++) strip.push(px(x, 15).join(","));
  assert.ok(strip.includes(c0.join(",")), "label strip colour");
  assert.ok(strip.some((s) => s === "0,0,0" || s === "255,255,255"), "label text ink");
});

Deno.test("drawDetections rejects image data of the wrong length with the sizes", () => {
  assert.throws(
    () =>
      drawDetections({ data: new Uint8Array(10), width: 4, height: 4 }, {
        boxes: new Float32Array(),
        labels: new Int32Array(),
      }),
    /10 bytes; a 4×4 image needs 48 \(RGB\) or 64 \(RGBA\)/,
  );
});
