/// <reference lib="dom" />
/**
 * The example page's script (bundled to main.js by tools/browser/example.ts): loads a model from the URL in
 * `?weights=` (safetensors or torch .pth; `?config=` a JSON of config overrides such as the demo's
 * config.json, else the `small` preset; `?threshold=` the score threshold, default 0.5), detects on a picked photo or a sample shapes image and draws the
 * masks, and trains on shapes images for N steps with the loss drawn live. Everything runs on the page's
 * WebGPU; nothing is sent anywhere.
 * @module
 */
import {
  buildModel,
  createOptimizer,
  detect,
  type Detection,
  drawInstancesRgba,
  initWeights,
  loadWeights,
  type MaskRcnnModel,
  type Optimizer,
  type RawImage,
  SHAPES_CLASS_NAMES,
  ShapesDataset,
  trainStep,
} from "../../mod.ts";
import { drawableToRgb } from "../../data/image_browser.ts";
import { getGpu } from "../../ops/mod.ts";

type BuildOptions = NonNullable<Parameters<typeof buildModel>[0]>;
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const status = (text: string) => ($("status").textContent = text);
const setState = (state: string) => (document.body.dataset.state = state);

let model: MaskRcnnModel;
let classNames: readonly string[] = SHAPES_CLASS_NAMES;
let image: RawImage | undefined;
let optimizer: Optimizer | undefined;
let sampleSeed = 1000;
const losses: number[] = [];
const scoreThreshold = Number(params.get("threshold") ?? 0.5);

async function loadModel(): Promise<void> {
  const gpu = await getGpu();
  $("adapter").textContent = `WebGPU: ${gpu.info.description} (${gpu.info.vendor})` +
    (gpu.info.isFallbackAdapter ? ", a software fallback adapter" : "");
  let overrides: BuildOptions & { classNames?: string[] } = { preset: "small", minSize: 96, maxSize: 96 };
  const configUrl = params.get("config");
  if (configUrl) overrides = await (await fetch(configUrl)).json();
  const size = params.get("size");
  if (size) overrides = { ...overrides, minSize: Number(size), maxSize: Number(size) };
  const { classNames: names, ...config } = overrides;
  if (names) classNames = names;
  model = await buildModel(config);
  const weights = params.get("weights");
  const t = performance.now();
  if (weights) {
    status(`loading weights from ${weights}…`);
    await loadWeights(model, weights);
    status(`weights from ${weights} (${Math.round(performance.now() - t)} ms)`);
  } else {
    initWeights(model, { seed: 0 });
    status("no ?weights=URL given: random initial weights (seed 0); train a few steps, or pass weights");
  }
}

async function sampleImage(): Promise<RawImage> {
  const size = model.config.minSize;
  const data = new ShapesDataset({ count: 1, seed: sampleSeed++, width: size, height: size });
  return (await data.get(0)).image;
}

function show(img: RawImage, det?: Detection): void {
  const { width, height } = img;
  const rgba = new Uint8ClampedArray(width * height * 4);
  const channels = img.data.length / (width * height);
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) rgba[4 * i + c] = img.data[channels * i + c];
    rgba[4 * i + 3] = 255;
  }
  if (det) drawInstancesRgba(rgba, width, height, det, { classNames, textScale: width < 200 ? 1 : 2 });
  const source = new OffscreenCanvas(width, height);
  source.getContext("2d")!.putImageData(new ImageData(rgba, width, height), 0, 0);
  const view = $<HTMLCanvasElement>("view");
  const scale = Math.min(384 / width, 384 / height);
  view.width = Math.round(width * scale);
  view.height = Math.round(height * scale);
  const ctx = view.getContext("2d")!;
  ctx.imageSmoothingEnabled = scale < 1;
  ctx.drawImage(source, 0, 0, view.width, view.height);
}

async function runDetect(): Promise<void> {
  if (!image) image = await sampleImage();
  const t = performance.now();
  status("detecting… (the first call compiles the shaders)");
  const det = await detect(model, image, { scoreThreshold });
  const ms = performance.now() - t;
  show(image, det);
  const rows = Array.from({ length: det.count }, (_, i) => {
    const [x1, y1, x2, y2] = Array.from(det.boxes.subarray(4 * i, 4 * i + 4), (v) => v.toFixed(0));
    return `<tr><td>${classNames[det.labels[i]] ?? det.labels[i]}</td><td>${det.scores[i].toFixed(3)}</td>` +
      `<td>[${x1}, ${y1}, ${x2}, ${y2}]</td></tr>`;
  });
  $("detections").innerHTML = rows.join("");
  status(
    `detect: ${det.count} objects with score ≥ ${scoreThreshold} in ${image.width}×${image.height}, ${
      ms.toFixed(0)
    } ms`,
  );
  setState("detected");
}

function drawLoss(): void {
  const canvas = $<HTMLCanvasElement>("loss");
  const ctx = canvas.getContext("2d")!;
  const { width: w, height: h } = canvas;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, w, h);
  if (losses.length === 0) return;
  const max = Math.max(...losses);
  ctx.strokeStyle = "#c33";
  ctx.lineWidth = 2;
  ctx.beginPath();
  losses.forEach((v, i) => {
    const x = 30 + (losses.length === 1 ? 0 : (i / (losses.length - 1)) * (w - 40));
    const y = h - 20 - (v / max) * (h - 30);
    i === 0 ? ctx.moveTo(x, y) : ctx.lineTo(x, y);
  });
  ctx.stroke();
  ctx.fillStyle = "#333";
  ctx.font = "11px sans-serif";
  ctx.fillText(max.toFixed(2), 2, 14);
  ctx.fillText("0", 2, h - 20);
  ctx.fillText(`step ${losses.length}`, w - 60, h - 5);
}

async function runTrain(): Promise<void> {
  const steps = Number(($<HTMLInputElement>("steps")).value);
  const size = model.config.minSize;
  const data = new ShapesDataset({ count: 16, seed: 1, width: size, height: size });
  optimizer ??= createOptimizer(model, { type: "adamw", lr: 1e-3, weightDecay: 1e-4, warmupIters: 10 });
  for (let s = 0; s < steps; s++) {
    const t = performance.now();
    const items = await Promise.all([0, 1].map((k) => data.get((2 * losses.length + k) % 16)));
    const l = await trainStep(
      model,
      {
        images: items.map((x) => x.image),
        targets: items.map((x) => x.target),
      },
      optimizer,
      { seed: losses.length },
    );
    losses.push(l.total);
    drawLoss();
    $("lossText").textContent = `step ${losses.length}: loss ${l.total.toFixed(4)} (rpn ${
      (l.rpnObjectness + l.rpnBoxReg).toFixed(3)
    }, class ${l.classifier.toFixed(3)}, box ${l.boxReg.toFixed(3)}, mask ${l.mask.toFixed(3)}), ${
      (performance.now() - t).toFixed(0)
    } ms`;
    await new Promise((r) => setTimeout(r)); // let the page paint
  }
  setState("trained");
}

function guard(fn: () => Promise<void>): () => Promise<void> {
  return async () => {
    for (const b of document.querySelectorAll("button")) b.disabled = true;
    try {
      await fn();
    } catch (e) {
      status(`error: ${(e as Error).message}`);
      setState("error");
    } finally {
      for (const b of document.querySelectorAll("button")) b.disabled = false;
    }
  };
}

$("sample").onclick = guard(async () => {
  image = await sampleImage();
  show(image);
});
$("detect").onclick = guard(runDetect);
$("train").onclick = guard(runTrain);
$<HTMLInputElement>("file").onchange = guard(async () => {
  const file = $<HTMLInputElement>("file").files?.[0];
  if (!file) return;
  const bitmap = await createImageBitmap(file, { colorSpaceConversion: "none" });
  image = drawableToRgb(bitmap);
  bitmap.close();
  show(image);
  await runDetect();
});

await guard(async () => {
  await loadModel();
  image = await sampleImage();
  show(image);
  setState("ready");
})();
