// The pixel limit of decodeImage: checked from the PNG IHDR / JPEG SOF header before anything is decoded.
import assert from "node:assert/strict";
import { decodeImage, DEFAULT_MAX_IMAGE_PIXELS, readImageFile } from "../../data/image_codec.ts";
import { readImageSize } from "../../data/image_header.ts";
import { DataError } from "../../data/errors.ts";
import { zeroPng } from "./_png_writer.ts";

const DIR = new URL("../fixtures/data/", import.meta.url).pathname;

Deno.test("readImageSize reads the size the decoder finds, for every PNG and JPEG fixture", async () => {
  for (
    const name of [
      "codec_grey.jpg",
      "codec_rgb.jpg",
      "codec_grey.png",
      "codec_grey_alpha.png",
      "codec_rgba.png",
    ]
  ) {
    const bytes = await Deno.readFile(`${DIR}${name}`);
    const decoded = await decodeImage(bytes, name);
    assert.deepEqual(readImageSize(bytes), { width: decoded.width, height: decoded.height }, name);
  }
  assert.equal(readImageSize(new Uint8Array([0xff, 0xd8, 0xff])), undefined); // cut short
});

Deno.test("the test PNG writer makes valid PNGs (a small one decodes to black pixels)", async () => {
  const image = await decodeImage(await zeroPng(37, 5), "small.png");
  assert.deepEqual([image.width, image.height], [37, 5]);
  assert.ok(image.data.every((x) => x === 0) && image.data.length === 37 * 5 * 3);
});

Deno.test("a 20000×20000 PNG is refused within a second, adding < 100 MB RSS, naming file, limit and fix", async () => {
  const png = await zeroPng(20000, 20000);
  assert.ok(png.length < 1_000_000, `${png.length} bytes`);
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/huge.png`;
    await Deno.writeFile(path, png);
    const rss = Deno.memoryUsage().rss;
    const start = performance.now();
    await assert.rejects(() => readImageFile(path), (e) => {
      assert.ok(e instanceof DataError);
      assert.equal(e.reason, "image-too-large");
      assert.equal(e.file, path);
      assert.ok(e.message.startsWith(`${path}: `), e.message);
      assert.match(e.message, /20000×20000 \(400 megapixels\), over the limit of 50 megapixels/);
      assert.match(e.message, /maxPixels option or the MASKRCNN_MAX_IMAGE_PIXELS environment variable/);
      return true;
    });
    const ms = performance.now() - start;
    const addedMb = (Deno.memoryUsage().rss - rss) / 2 ** 20;
    console.log(
      `20000×20000 PNG (${png.length} bytes) refused in ${ms.toFixed(1)} ms, RSS +${addedMb.toFixed(1)} MB`,
    );
    assert.ok(ms < 1000, `${ms} ms`);
    assert.ok(addedMb < 100, `${addedMb} MB`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("maxPixels raises or lowers the limit; images within it decode", async () => {
  const png = await zeroPng(300, 200); // 60000 pixels
  await assert.rejects(
    () => decodeImage(png, "a.png", { maxPixels: 59_999 }),
    (e) => e instanceof DataError && e.reason === "image-too-large" && e.file === "a.png",
  );
  assert.equal((await decodeImage(png, "a.png", { maxPixels: 60_000 })).width, 300);
  assert.equal(DEFAULT_MAX_IMAGE_PIXELS, 50_000_000);
});

Deno.test("a JPEG whose frame header claims 60000×60000 is refused before decoding", async () => {
  const jpeg = (await Deno.readFile(`${DIR}codec_rgb.jpg`)).slice();
  const size = readImageSize(jpeg)!;
  // find the SOF segment the reader found and patch its height and width
  let p = 2;
  while (!(jpeg[p] === 0xff && jpeg[p + 1] >= 0xc0 && jpeg[p + 1] <= 0xc2)) {
    p += 2 + ((jpeg[p + 2] << 8) | jpeg[p + 3]);
  }
  const v = new DataView(jpeg.buffer);
  assert.deepEqual({ width: v.getUint16(p + 7), height: v.getUint16(p + 5) }, size);
  v.setUint16(p + 5, 60000);
  v.setUint16(p + 7, 60000);
  await assert.rejects(
    () => decodeImage(jpeg, "huge.jpg"),
    (e) =>
      e instanceof DataError && e.reason === "image-too-large" &&
      /huge\.jpg: jpeg image is 60000×60000/.test(e.message),
  );
});

Deno.test("MASKRCNN_MAX_IMAGE_PIXELS sets the default limit (for the command-line tools)", async () => {
  const png = await zeroPng(300, 200);
  Deno.env.set("MASKRCNN_MAX_IMAGE_PIXELS", "59999");
  try {
    await assert.rejects(
      () => decodeImage(png, "a.png"),
      (e) =>
        e instanceof DataError && e.reason === "image-too-large" &&
        /limit of 0\.1 megapixels/.test(e.message),
    );
    assert.equal((await decodeImage(png, "a.png", { maxPixels: 60_000 })).height, 200); // the option wins
  } finally {
    Deno.env.delete("MASKRCNN_MAX_IMAGE_PIXELS");
  }
  assert.equal((await decodeImage(png, "a.png")).width, 300);
});
