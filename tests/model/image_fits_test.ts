/**
 * An image whose RGB bytes exceed the adapter's largest storage binding is refused before any GPU work
 * with a LimitError naming the argument (or file), its size and the megapixel bound to downscale to; the
 * `detect` CLI skips such a file with a warning naming it. The image here is sized from the adapter's own
 * limit (one row over it), so the test holds on any adapter. The pixel buffer is not allocated: the check
 * reads only width and height.
 * @module
 */
import assert from "node:assert/strict";
import { getGpu } from "../../ops/gpu.ts";
import { LimitError } from "../../ops/errors.ts";
import { checkImageFitsAdapter } from "../../model/detect.ts";
import type { RawImage } from "../../model/transform.ts";

Deno.test("checkImageFitsAdapter refuses an image one row over the binding limit, naming it and the bound", async () => {
  const gpu = await getGpu();
  const limit = gpu.limits.maxStorageBufferBindingSize;
  const width = 8000;
  const fitting = Math.floor(limit / (3 * width));
  const image = (height: number): RawImage => ({ data: new Uint8Array(0), width, height });
  checkImageFitsAdapter(image(fitting), "ok.png"); // exactly within the limit: accepted
  assert.throws(
    () => checkImageFitsAdapter(image(fitting + 1), "big.jpg"),
    (e) =>
      e instanceof LimitError && /big\.jpg/.test(e.message) && /downscale it to at most [0-9.]+ megapixels/
        .test(e.message) &&
      e.message.includes(String(limit)),
  );
});
