/**
 * `detect`, `detectImages` and `trainStep` check their arguments' types and the batch size before any GPU
 * work: each wrong input is an `InvalidInputError` (a TypeError) naming the argument and what it accepts,
 * and a batch over MAX_BATCH_IMAGES is a `LimitError` naming the limit. The model gets placeholder params
 * (as in detect_errors_test.ts): the checks come first, so nothing reaches the GPU.
 * @module
 */
import assert from "node:assert/strict";
import {
  buildModel,
  detect,
  InvalidInputError,
  LimitError,
  MAX_BATCH_IMAGES,
  ShapeError,
  trainStep,
} from "../../mod.ts";
import { detectImages } from "../../model/detect.ts";
import { trainStep as trainStepRaw } from "../../model/train_step.ts";

const model = await buildModel({ preset: "small" });
model.params = {} as never; // checked before anything touches the GPU
const opt = {} as never; // likewise: a bad batch is refused before the optimizer is used
const rgb = (w = 4, h = 4) => ({ data: new Uint8Array(w * h * 3).fill(7), width: w, height: h });

function typed(argument: string, pattern: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof InvalidInputError, `expected InvalidInputError, got ${e}`);
    assert.ok(e instanceof TypeError);
    assert.equal(e.argument, argument);
    assert.match(e.message, pattern);
    return true;
  };
}

const DETECT_CASES: [string, unknown, string, RegExp][] = [
  ["null", null, "image", /image is null; expected PNG\/JPEG bytes \(a Uint8Array\) or a decoded image/],
  ["a path string", "street.jpg", "image", /a string \("street\.jpg"\).*Deno\.readFile/],
  ["an ArrayBuffer", new ArrayBuffer(16), "image", /an ArrayBuffer.*new Uint8Array\(buffer\)/],
  ["a number", 42, "image", /a number \(42\)/],
  [
    "Float32Array pixels",
    { data: new Float32Array(48).fill(0.5), width: 4, height: 4 },
    "image.data",
    /Float32Array/,
  ],
  ["NaN pixels", { data: new Float32Array(48).fill(NaN), width: 4, height: 4 }, "image.data", /8-bit/],
  [
    "Uint16Array pixels",
    { data: new Uint16Array(48).fill(300), width: 4, height: 4 },
    "image.data",
    /Uint16Array/,
  ],
  [
    "plain-array pixels",
    { data: new Array(48).fill(1), width: 4, height: 4 },
    "image.data",
    /an array of 48/,
  ],
  ["an object without data", { width: 4, height: 4 }, "image", /an Object; expected/],
];

for (const [what, input, argument, pattern] of DETECT_CASES) {
  Deno.test(`detect refuses ${what} with an InvalidInputError naming ${argument}`, async () => {
    await assert.rejects(() => detect(model, input as never), typed(argument, pattern));
  });
}

Deno.test("detect names the array element at fault; detectImages checks raw images the same way", async () => {
  await assert.rejects(() => detect(model, [rgb(), null] as never), typed("images[1]", /null/));
  await assert.rejects(
    () => detectImages(model, [rgb(), { data: new Uint16Array(48), width: 4, height: 4 }] as never),
    typed("images[1].data", /Uint16Array/),
  );
  await assert.rejects(() => detectImages(model, "a.jpg" as never), typed("images", /a string/));
});

Deno.test(`a batch of ${MAX_BATCH_IMAGES + 1} images is refused with the limit before any work`, async () => {
  assert.equal(MAX_BATCH_IMAGES, 14);
  const many = Array.from({ length: MAX_BATCH_IMAGES + 1 }, () => rgb());
  const limit = (e: unknown) =>
    e instanceof LimitError && /holds 15 images; at most 14 go through one call/.test(e.message);
  await assert.rejects(() => detect(model, many), limit);
  await assert.rejects(() => detectImages(model, many), limit);
  const targets = many.map(() => ({ boxes: new Float32Array([0, 0, 2, 2]), labels: new Int32Array([1]) }));
  await assert.rejects(() => trainStep(model, { images: many, targets }, opt), limit);
});

const target = () => ({
  boxes: new Float32Array([0, 0, 2, 2]),
  labels: new Int32Array([1]),
  masks: new Uint8Array(16),
});
const TRAIN_CASES: [string, unknown, string, RegExp][] = [
  ["a null batch", null, "batch", /batch is null; expected \{ images/],
  ["images that are not an array", { images: rgb(), targets: [target()] }, "batch.images", /an Object/],
  ["a path string as image", { images: ["a.png"], targets: [target()] }, "batch.images[0]", /a string/],
  [
    "Float32Array pixels",
    {
      images: [{ data: new Float32Array(48), width: 4, height: 4 }],
      targets: [target()],
    },
    "batch.images[0].data",
    /Float32Array/,
  ],
  [
    "boxes as a plain array",
    {
      images: [rgb()],
      targets: [{ ...target(), boxes: [0, 0, 2, 2] }],
    },
    "batch.targets[0].boxes",
    /an array of 4; expected a Float32Array n×4/,
  ],
  [
    "labels as a Float32Array",
    {
      images: [rgb()],
      targets: [{ ...target(), labels: new Float32Array([1]) }],
    },
    "batch.targets[0].labels",
    /Float32Array; expected an Int32Array/,
  ],
  [
    "masks as a plain array",
    {
      images: [rgb()],
      targets: [{ ...target(), masks: new Array(16).fill(0) }],
    },
    "batch.targets[0].masks",
    /expected a Uint8Array n×H×W/,
  ],
  [
    "a NaN box coordinate",
    {
      images: [rgb()],
      targets: [{ ...target(), boxes: new Float32Array([0, NaN, 2, 2]) }],
    },
    "batch.targets[0].boxes[1]",
    /NaN; expected a finite coordinate/,
  ],
  ["a null target", { images: [rgb()], targets: [null] }, "batch.targets[0]", /null/],
];

for (const [what, batch, argument, pattern] of TRAIN_CASES) {
  Deno.test(`trainStep refuses ${what} naming ${argument} (mod.ts and model/train_step.ts)`, async () => {
    await assert.rejects(() => trainStep(model, batch as never, opt), typed(argument, pattern));
    await assert.rejects(() => trainStepRaw(model, batch as never, opt), typed(argument, pattern));
  });
}

Deno.test("trainStep refuses counts that disagree (images/targets, boxes/labels, masks) before any work", async () => {
  const cases: [unknown, RegExp][] = [
    [{ images: [rgb(), rgb()], targets: [target()] }, /2 images and 1 targets/],
    [
      { images: [rgb()], targets: [{ ...target(), boxes: new Float32Array(8) }] },
      /target 0: 2 boxes for 1 labels/,
    ],
    [
      { images: [rgb()], targets: [{ ...target(), masks: new Uint8Array(15) }] },
      /masks of 15 bytes are not 1×4×4/,
    ],
    [{ images: [rgb()], targets: [{ ...target(), labels: new Int32Array([9]) }] }, /label 9 outside 1\.\.3/],
  ];
  for (const [batch, pattern] of cases) {
    for (const step of [trainStep, trainStepRaw]) {
      await assert.rejects(
        () => step(model, batch as never, opt),
        (e) => e instanceof ShapeError && pattern.test(e.message),
      );
    }
  }
});
