/**
 * Data pipeline benchmark: images per second for decode + masks from polygons + resize (torchvision
 * min/max 800/1333) + horizontal flip + collate (pad to a multiple of 32, batches of 2) on 640×480 JPEGs with
 * 10 polygon instances each. The JPEGs are generated first with imagescript into a temp dir (its JPEG
 * encoder is native, hence `--allow-ffi`; decoding uses the WASM codec).
 *
 * Usage: deno run --allow-read --allow-write --allow-env --allow-ffi tools/bench_data.ts [--images N] [--json]
 * With --json the last stdout line is one JSON object (snake_case keys, e.g. `data_images_per_s`).
 * @module
 */

import { collateBatch } from "../data/collate.ts";
import { readImageFile } from "../data/image_codec.ts";
import { DataLoader } from "../data/loader.ts";
import { polygonsToMask } from "../data/mask_in_box.ts";
import { Rng } from "../data/prng.ts";
import { flipItem } from "../data/transforms_flip.ts";
import { resizeMinMax } from "../data/transforms_resize.ts";
import type { Dataset, TrainItem } from "../data/types.ts";

const W = 640, H = 480, INSTANCES = 10, BATCH = 2;
const args = Deno.args;
const json = args.includes("--json");
const nArg = args.indexOf("--images");
const N = nArg >= 0 ? Number(args[nArg + 1]) : 24;

interface Sample {
  file: string;
  polygons: number[][];
  boxes: Float32Array;
  labels: Int32Array;
}

function randomPolygon(rng: Rng): number[] {
  const cx = rng.uniform(60, W - 60), cy = rng.uniform(60, H - 60), r = rng.uniform(15, 55);
  const k = rng.int(8, 16);
  const poly: number[] = [];
  for (let i = 0; i < k; i++) {
    const a = (2 * Math.PI * i) / k, rr = r * rng.uniform(0.6, 1);
    poly.push(cx + rr * Math.cos(a), cy + rr * Math.sin(a));
  }
  return poly;
}

async function makeSamples(dir: string): Promise<Sample[]> {
  const { Image } = await import("imagescript");
  const samples: Sample[] = [];
  for (let s = 0; s < N; s++) {
    const rng = new Rng(1000 + s);
    const img = new Image(W, H);
    const px = img.bitmap;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const o = 4 * (y * W + x);
        px[o] = (x * 255) / W;
        px[o + 1] = (y * 255) / H;
        px[o + 2] = 128 + 100 * Math.sin((x + y + s * 17) / 23);
        px[o + 3] = 255;
      }
    }
    const polygons = Array.from({ length: INSTANCES }, () => randomPolygon(rng));
    const boxes = new Float32Array(INSTANCES * 4);
    polygons.forEach((p, k) => {
      const xs = p.filter((_, i) => i % 2 === 0), ys = p.filter((_, i) => i % 2 === 1);
      boxes.set([Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)], 4 * k);
      for (let i = 0; i < xs.length; i++) {
        const o = 4 * (Math.floor(ys[i]) * W + Math.floor(xs[i]));
        px[o] = px[o + 1] = px[o + 2] = 0;
      }
    });
    const file = `${dir}/img_${s}.jpg`;
    await Deno.writeFile(file, await img.encodeJPEG(90));
    samples.push({ file, polygons, boxes, labels: Int32Array.from(polygons, (_, k) => 1 + (k % 3)) });
  }
  return samples;
}

const timings = { decode: 0, masks: 0, resize: 0, flip: 0, collate: 0 };

async function loadSample(s: Sample): Promise<TrainItem> {
  let t = performance.now();
  const image = await readImageFile(s.file);
  timings.decode += performance.now() - t;
  t = performance.now();
  const masks = new Uint8Array(INSTANCES * W * H);
  s.polygons.forEach((p, k) => masks.set(polygonsToMask([p], H, W), k * W * H));
  timings.masks += performance.now() - t;
  return { image, target: { boxes: s.boxes, labels: s.labels, masks } };
}

function augment(item: TrainItem): TrainItem {
  let t = performance.now();
  const resized = resizeMinMax(item, 800, 1333);
  timings.resize += performance.now() - t;
  t = performance.now();
  const flipped = flipItem(resized);
  timings.flip += performance.now() - t;
  return flipped;
}

const dir = await Deno.makeTempDir({ prefix: "bench_data_" });
try {
  const samples = await makeSamples(dir);
  for (const s of samples.slice(0, 4)) collateBatch([augment(await loadSample(s))]); // warm up WASM and JIT
  for (const k of Object.keys(timings) as (keyof typeof timings)[]) timings[k] = 0;

  const start = performance.now();
  for (let i = 0; i < N; i += BATCH) {
    const items: TrainItem[] = [];
    for (const s of samples.slice(i, i + BATCH)) items.push(augment(await loadSample(s)));
    const t = performance.now();
    collateBatch(items);
    timings.collate += performance.now() - t;
  }
  const total = performance.now() - start;
  const stage = { ...timings };

  const dataset: Dataset = { length: N, get: (i) => loadSample(samples[i]) };
  const loader = new DataLoader(dataset, {
    batchSize: BATCH,
    seed: 1,
    transform: (item) => augment(item),
    collate: (items) => collateBatch(items),
  });
  const loaderStart = performance.now();
  for await (const _ of loader.epoch(0)) { /* the training step would run here */ }
  const loaderTotal = performance.now() - loaderStart;

  const perImage = (ms: number) => ms / N;
  const result = {
    images: N,
    width: W,
    height: H,
    instances_per_image: INSTANCES,
    batch_size: BATCH,
    data_images_per_s: (N * 1000) / total,
    loader_images_per_s: (N * 1000) / loaderTotal,
    decode_ms_per_image: perImage(stage.decode),
    masks_ms_per_image: perImage(stage.masks),
    resize_ms_per_image: perImage(stage.resize),
    flip_ms_per_image: perImage(stage.flip),
    collate_ms_per_image: perImage(stage.collate),
  };
  console.log(
    `data pipeline: ${N} JPEGs ${W}×${H}, ${INSTANCES} polygon instances each, resize 800/1333, batch ${BATCH}`,
  );
  console.log("stage              ms/image");
  for (const k of ["decode", "masks", "resize", "flip", "collate"] as const) {
    console.log(`${k.padEnd(18)} ${result[`${k}_ms_per_image`].toFixed(2).padStart(8)}`);
  }
  console.log(
    `${"total".padEnd(18)} ${(total / N).toFixed(2).padStart(8)}   → ${
      result.data_images_per_s.toFixed(1)
    } images/s`,
  );
  console.log(
    `${"loader (prefetch)".padEnd(18)} ${(loaderTotal / N).toFixed(2).padStart(8)}   → ${
      result.loader_images_per_s.toFixed(1)
    } images/s`,
  );
  if (json) console.log(JSON.stringify(result));
} finally {
  await Deno.remove(dir, { recursive: true });
}
