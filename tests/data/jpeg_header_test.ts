/**
 * A JPEG whose frame header claims 65500×65500 pixels (a 300-byte file) fails fast with a typed error
 * naming the file and the pixel limit (reason `image-too-large`, checked from the frame header before
 * decoding), without allocating the 12 GB such an image would need.
 * @module
 */
import assert from "node:assert/strict";
import { decodeImage } from "../../data/image_codec.ts";
import { DataError } from "../../data/errors.ts";

const FIXTURE = new URL("../fixtures/data/codec_rgb.jpg", import.meta.url).pathname;

/** The fixture JPEG with its SOF0 height and width set to `size`. */
async function hugeJpeg(size: number): Promise<Uint8Array> {
  const bytes = await Deno.readFile(FIXTURE);
  for (let i = 2; i + 9 < bytes.length;) {
    const marker = bytes[i + 1], length = (bytes[i + 2] << 8) | bytes[i + 3];
    if (marker >= 0xc0 && marker <= 0xc2) {
      bytes.set([size >> 8, size & 255, size >> 8, size & 255], i + 5); // height, width
      return bytes;
    }
    i += 2 + length;
  }
  throw new Error("no SOF marker in the fixture");
}

Deno.test("a JPEG claiming 65500×65500 pixels fails within a second with a typed error naming the file", async () => {
  const bytes = await hugeJpeg(65500);
  const rss = Deno.memoryUsage().rss, start = performance.now();
  await assert.rejects(
    () => decodeImage(bytes, "huge.jpg"),
    (e) =>
      e instanceof DataError && e.reason === "image-too-large" && /huge\.jpg/.test(e.message) &&
      /MASKRCNN_MAX_IMAGE_PIXELS|maxPixels/.test(e.message),
  );
  assert.ok(performance.now() - start < 1000, "refused quickly");
  assert.ok(Deno.memoryUsage().rss - rss < 100e6, "without allocating the image");
});
