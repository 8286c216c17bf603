/**
 * Argument checks of the public entry points (`detect`, `detectImages`, `trainStep`): wrong types (a path
 * string, `null`, an `ArrayBuffer`, float or 16-bit pixel data, boxes as a plain array) become an
 * {@link InvalidInputError} naming the argument and what it accepts, and a batch over
 * {@link MAX_BATCH_IMAGES} is refused with the arguments, before any GPU work.
 *
 * Decision: an `ArrayBuffer` is refused rather than guessed at (encoded bytes or raw pixels?); the message
 * says to wrap encoded bytes in a `Uint8Array`.
 * @module
 */
import { SCALE_MAX_IMAGES } from "../ops/detection/scale_boxes.ts";
import { LimitError } from "../ops/errors.ts";

/**
 * Most images one `detect` / `trainStep` call takes: the per-image sizes of a batch travel in one uniform
 * block of the box-scaling kernel (14 images; box clipping takes 15). Split larger sets into batches.
 *
 * @example
 * ```ts
 * import { MAX_BATCH_IMAGES } from "./input_checks.ts";
 * console.log(MAX_BATCH_IMAGES); // 14
 * ```
 */
export const MAX_BATCH_IMAGES: number = SCALE_MAX_IMAGES;

/**
 * An argument of the wrong type (a `TypeError`): `argument` names it (`images[2].data`), `expected` says
 * what the function accepts.
 *
 * @example
 * ```ts
 * import { InvalidInputError } from "./input_checks.ts";
 * const e = new InvalidInputError("detect", "image", "a string (\"a.jpg\")", "PNG/JPEG bytes (Uint8Array)");
 * console.log(e.message); // detect: image is a string ("a.jpg"); expected PNG/JPEG bytes (Uint8Array)
 * ```
 */
export class InvalidInputError extends TypeError {
  /** The argument at fault, e.g. `images[2].data`. */
  readonly argument: string;
  /** What the argument may be. */
  readonly expected: string;

  /**
   * @param op the function; @param argument its argument; @param got what was passed;
   * @param expected what it takes; @param hint how to fix it (optional).
   */
  constructor(op: string, argument: string, got: string, expected: string, hint = "") {
    super(`${op}: ${argument} is ${got}; expected ${expected}${hint ? ` (${hint})` : ""}`);
    this.name = "InvalidInputError";
    this.argument = argument;
    this.expected = expected;
  }
}

/**
 * A short description of a value for messages: `null`, `a string ("a.jpg")`, `a Float32Array`, ….
 *
 * @example
 * ```ts
 * import { describeValue } from "./input_checks.ts";
 * console.log(describeValue(new ArrayBuffer(4))); // "an ArrayBuffer"
 * ```
 */
export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (typeof value === "string") return `a string (${JSON.stringify(value.slice(0, 60))})`;
  if (typeof value !== "object") return `a ${typeof value} (${String(value)})`;
  if (Array.isArray(value)) return `an array of ${value.length}`;
  const name = (value as object).constructor?.name ?? "Object";
  return `${/^[AEIOU]/.test(name) ? "an" : "a"} ${name}`;
}

const RAW_IMAGE = "a decoded image { data: Uint8Array of RGB/RGBA bytes, width, height }";
const IMAGE_INPUT = `PNG/JPEG bytes (a Uint8Array) or ${RAW_IMAGE}`;

function hintFor(value: unknown): string {
  if (typeof value === "string") return "pass the file's bytes: await Deno.readFile(path)";
  if (value instanceof ArrayBuffer) return "wrap encoded bytes: new Uint8Array(buffer)";
  return "";
}

/**
 * Checks that `images` is an array of at most {@link MAX_BATCH_IMAGES} decoded images with 8-bit pixel
 * data (sizes and lengths are checked when the batch is transformed).
 *
 * @example
 * ```ts
 * import { checkRawImages } from "./input_checks.ts";
 * checkRawImages("detect", [{ data: new Uint8Array(12), width: 2, height: 2 }]); // passes
 * ```
 */
export function checkRawImages(op: string, images: unknown, argument = "images"): void {
  if (!Array.isArray(images)) {
    throw new InvalidInputError(op, argument, describeValue(images), `an array of ${RAW_IMAGE}`);
  }
  checkBatchSize(op, images.length, argument);
  images.forEach((image, i) => checkRawImage(op, `${argument}[${i}]`, image));
}

/**
 * Checks one decoded image: an object whose `data` is a `Uint8Array` or `Uint8ClampedArray` (float or
 * 16-bit pixels would be truncated to bytes, so they are refused).
 *
 * @example
 * ```ts
 * import { checkRawImage } from "./input_checks.ts";
 * checkRawImage("detect", "image", { data: new Uint8Array(3), width: 1, height: 1 }); // passes
 * ```
 */
export function checkRawImage(op: string, argument: string, image: unknown): void {
  if (image === null || typeof image !== "object" || !("data" in image)) {
    throw new InvalidInputError(op, argument, describeValue(image), RAW_IMAGE, hintFor(image));
  }
  const data = (image as { data: unknown }).data;
  if (!(data instanceof Uint8Array || data instanceof Uint8ClampedArray)) {
    throw new InvalidInputError(
      op,
      `${argument}.data`,
      describeValue(data),
      "a Uint8Array or Uint8ClampedArray of 8-bit RGB/RGBA values",
      "convert float or 16-bit pixels to 0–255 bytes first",
    );
  }
}

/**
 * Checks one argument of `detect` / `trainStep` before decoding: encoded bytes (`Uint8Array`) or a decoded
 * image (see {@link checkRawImage}).
 *
 * @example
 * ```ts
 * import { checkImageInput } from "./input_checks.ts";
 * checkImageInput("detect", "image", new Uint8Array([0xff, 0xd8, 0xff])); // passes (decoded later)
 * ```
 */
export function checkImageInput(op: string, argument: string, image: unknown): void {
  if (image instanceof Uint8Array) return;
  if (image === null || typeof image !== "object" || !("data" in image)) {
    throw new InvalidInputError(op, argument, describeValue(image), IMAGE_INPUT, hintFor(image));
  }
  checkRawImage(op, argument, image);
}

/**
 * Refuses a batch of more than {@link MAX_BATCH_IMAGES} images (a `LimitError` naming the limit).
 *
 * @example
 * ```ts
 * import { checkBatchSize } from "./input_checks.ts";
 * checkBatchSize("detect", 4); // passes
 * ```
 */
export function checkBatchSize(op: string, count: number, argument = "images"): void {
  if (count > MAX_BATCH_IMAGES) {
    throw new LimitError(
      op,
      `${argument} holds ${count} images; at most ${MAX_BATCH_IMAGES} go through one call (split them into ` +
        "batches)",
    );
  }
}

/**
 * Checks the types of a training batch: `{ images, targets }` arrays (at most {@link MAX_BATCH_IMAGES}
 * images); each target has `boxes` (Float32Array of finite values), `labels` (Int32Array) and, if given,
 * `masks` (Uint8Array). Images are checked by `checkImage`. The counts (one target per image, n×4 boxes
 * for n labels, n×H×W masks) are checked by the training step (`ShapeError`).
 *
 * @example
 * ```ts
 * import { checkImageInput, checkTrainBatch } from "./input_checks.ts";
 * const target = { boxes: new Float32Array([0, 0, 2, 2]), labels: new Int32Array([1]) };
 * checkTrainBatch("trainStep", { images: [new Uint8Array(8)], targets: [target] }, checkImageInput); // passes
 * ```
 */
export function checkTrainBatch(
  op: string,
  batch: unknown,
  checkImage: (op: string, argument: string, image: unknown) => void,
): void {
  const expected = "{ images: [...], targets: [{ boxes, labels, masks? }, ...] }";
  if (batch === null || typeof batch !== "object") {
    throw new InvalidInputError(op, "batch", describeValue(batch), expected);
  }
  const { images, targets } = batch as { images?: unknown; targets?: unknown };
  for (const [name, value] of [["images", images], ["targets", targets]] as const) {
    if (!Array.isArray(value)) {
      throw new InvalidInputError(op, `batch.${name}`, describeValue(value), `an array (${expected})`);
    }
  }
  const imageList = images as unknown[], targetList = targets as unknown[];
  checkBatchSize(op, imageList.length, "batch.images");
  imageList.forEach((image, i) => checkImage(op, `batch.images[${i}]`, image));
  targetList.forEach((target, i) => checkTarget(op, `batch.targets[${i}]`, target));
}

function checkTarget(op: string, argument: string, target: unknown): void {
  if (target === null || typeof target !== "object") {
    throw new InvalidInputError(op, argument, describeValue(target), "{ boxes, labels, masks? }");
  }
  const { boxes, labels, masks } = target as Record<string, unknown>;
  if (!(boxes instanceof Float32Array)) {
    throw new InvalidInputError(
      op,
      `${argument}.boxes`,
      describeValue(boxes),
      "a Float32Array n×4 (x1, y1, x2, y2)",
    );
  }
  if (!(labels instanceof Int32Array)) {
    throw new InvalidInputError(op, `${argument}.labels`, describeValue(labels), "an Int32Array of n labels");
  }
  if (masks !== undefined && !(masks instanceof Uint8Array)) {
    throw new InvalidInputError(op, `${argument}.masks`, describeValue(masks), "a Uint8Array n×H×W of 0/1");
  }
  const bad = boxes.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw new InvalidInputError(op, `${argument}.boxes[${bad}]`, String(boxes[bad]), "a finite coordinate");
  }
}
