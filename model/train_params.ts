/**
 * The bridge between the packed GPU layers and the optimizer's torchvision-named parameters: which
 * gradient tensor each packed layer accumulates into (absent = frozen), and how packed (and, for the
 * backbone, batch-norm-folded) tensors turn back into torchvision's layout for `saveWeights`, checkpoints
 * and gradient checks. The optimizer (`model/optimizer.ts`) owns the parameter list and the gradients.
 * @module
 */
import type { PackedConv2d } from "../ops/conv2d.ts";
import type { PackedConvTranspose2d } from "../ops/conv_transpose2d.ts";
import type { PackedLinear } from "../ops/linear.ts";
import { readTensors, type Tensor } from "../ops/tensor.ts";
import type { MaskRcnnConfig } from "./config.ts";
import type { ParamEntry } from "./optimizer.ts";
import type { ModelParams } from "./params.ts";
import type { StateDict } from "./state_dict.ts";

/** Gradient targets of one packed layer (absent members are frozen). */
export interface LayerGrads {
  weight?: Tensor;
  bias?: Tensor;
}

/** How one packed tensor maps to torchvision's layout. */
export interface Unpacker {
  torchShape: number[];
  unpack: (packed: Float32Array) => Float32Array;
}

type AnyLayer = PackedConv2d | PackedLinear | PackedConvTranspose2d;

function convUnpacker(c: PackedConv2d): Unpacker {
  const cols = c.weight.shape[1];
  return {
    torchShape: [c.cout, c.cin, c.kh, c.kw],
    unpack: (p) => {
      const out = new Float32Array(c.cout * c.cin * c.kh * c.kw);
      for (let co = 0; co < c.cout; co++) {
        for (let ci = 0; ci < c.cin; ci++) {
          for (let y = 0; y < c.kh; y++) {
            for (let x = 0; x < c.kw; x++) {
              out[((co * c.cin + ci) * c.kh + y) * c.kw + x] = p[((y * c.kw + x) * c.cin + ci) * cols + co];
            }
          }
        }
      }
      return out;
    },
  };
}

function linearUnpacker(l: PackedLinear, nchw?: readonly [number, number, number]): Unpacker {
  const cols = l.weight.shape[1];
  return {
    torchShape: [l.out, l.in],
    unpack: (p) => {
      const w = new Float32Array(l.out * l.in);
      for (let i = 0; i < l.in; i++) {
        let src = i; // fc6's packed rows are in NHWC flatten order; torch's columns in C·H·W order
        if (nchw) {
          const [c, h, wd] = nchw;
          src = ((i % c) * h + Math.floor(i / (c * wd))) * wd + Math.floor(i / c) % wd;
        }
        for (let o = 0; o < l.out; o++) w[o * l.in + src] = p[i * cols + o];
      }
      return w;
    },
  };
}

function convTransposeUnpacker(t: PackedConvTranspose2d): Unpacker {
  return {
    torchShape: [t.cin, t.cout, 2, 2],
    unpack: (p) => {
      const w = new Float32Array(t.cin * t.cout * 4);
      for (let ci = 0; ci < t.cin; ci++) {
        for (let co = 0; co < t.cout; co++) {
          for (let q = 0; q < 4; q++) w[(ci * t.cout + co) * 4 + q] = p[ci * 4 * t.cout + q * t.cout + co];
        }
      }
      return w;
    },
  };
}

const biasUnpacker = (count: number): Unpacker => ({ torchShape: [count], unpack: (p) => p.slice(0, count) });

function layers(config: MaskRcnnConfig, params: ModelParams): [AnyLayer, Unpacker, Unpacker | null][] {
  const out: [AnyLayer, Unpacker, Unpacker | null][] = [];
  const conv = (c: PackedConv2d) => out.push([c, convUnpacker(c), c.bias ? biasUnpacker(c.cout) : null]);
  conv(params.stem);
  for (const stage of params.layers) {
    for (const b of stage) [b.conv1, b.conv2, b.conv3, ...(b.downsample ? [b.downsample] : [])].forEach(conv);
  }
  [...params.fpnInner, ...params.fpnLayer, params.rpnConv, params.rpnCls, params.rpnBbox].forEach(conv);
  const linear = (l: PackedLinear, nchw?: readonly [number, number, number]) =>
    out.push([l, linearUnpacker(l, nchw), l.bias ? biasUnpacker(l.out) : null]);
  linear(params.fc6, [config.fpnChannels, 7, 7]);
  [params.fc7, params.clsScore, params.bboxPred].forEach((l) => linear(l));
  if (params.mask) {
    params.mask.convs.forEach(conv);
    const t = params.mask.upsample;
    out.push([t, convTransposeUnpacker(t), t.bias ? biasUnpacker(t.cout) : null]);
    conv(params.mask.logits);
  }
  return out;
}

/**
 * The gradient tensors each packed layer accumulates into, from the optimizer's entries (layers whose
 * tensors are not in `entries` are frozen and absent from the map).
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { layerGradients } from "./train_params.ts";
 * import { buildModel } from "./mask_rcnn.ts";
 * import { initWeights } from "./init.ts";
 * import { createOptimizer } from "./optimizer.ts";
 * const model = await buildModel({ preset: "small" });
 * initWeights(model, { seed: 1 });
 * const opt = createOptimizer(model, { type: "sgd", lr: 0.01 });
 * const grads = layerGradients(model.config, model.params!, opt.entries);
 * assert.ok(grads.has(model.params!.fpnInner[0])); // trainable: its weight and bias gradients
 * assert.ok(!grads.has(model.params!.stem)); // frozen (trainableBackboneLayers 3)
 * ```
 */
export function layerGradients(
  config: MaskRcnnConfig,
  params: ModelParams,
  entries: readonly ParamEntry[],
): Map<object, LayerGrads> {
  const byParam = new Map(entries.map((e) => [e.param, e.grad]));
  const map = new Map<object, LayerGrads>();
  for (const [layer] of layers(config, params)) {
    const grads: LayerGrads = {
      weight: byParam.get(layer.weight),
      bias: layer.bias ? byParam.get(layer.bias) : undefined,
    };
    if (grads.weight || grads.bias) map.set(layer, grads);
  }
  return map;
}

/**
 * Packed tensor → torchvision layout, for every parameter tensor of the model.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { unpackers } from "./train_params.ts";
 * import { buildModel } from "./mask_rcnn.ts";
 * import { initWeights } from "./init.ts";
 * const model = await buildModel({ preset: "small" });
 * initWeights(model, { seed: 1 });
 * const map = unpackers(model.config, model.params!);
 * const fc6 = map.get(model.params!.fc6.weight)!; // packed [in, out4·4] → torch's [out, in]
 * assert.deepStrictEqual(fc6.torchShape, [128, 64 * 7 * 7]);
 * const packed = new Float32Array(await model.params!.fc6.weight.read());
 * const torch = fc6.unpack(packed);
 * assert.deepStrictEqual(torch, model.stateDict!.get("roi_heads.box_head.fc6.weight")!.data);
 * ```
 */
export function unpackers(config: MaskRcnnConfig, params: ModelParams): Map<Tensor, Unpacker> {
  const map = new Map<Tensor, Unpacker>();
  for (const [layer, weight, bias] of layers(config, params)) {
    map.set(layer.weight, weight);
    if (layer.bias && bias) map.set(layer.bias, bias);
  }
  return map;
}

async function readEntries(
  entries: readonly ParamEntry[],
  pick: (e: ParamEntry) => Tensor,
): Promise<{ values: Float32Array[]; scales: (Float32Array | null)[] }> {
  const scaled = entries.filter((e) => e.columnScale);
  const data = await readTensors([...entries.map(pick), ...scaled.map((e) => e.columnScale!)]);
  const scaleOf = new Map(scaled.map((e, i) => [e, data[entries.length + i] as Float32Array]));
  return {
    values: data.slice(0, entries.length) as Float32Array[],
    scales: entries.map((e) => scaleOf.get(e) ?? null),
  };
}

/**
 * Reads the trainable parameters back (one read-back) and writes them into `stateDict` in torchvision
 * layout, unfolding the batch norm of backbone convs (W = W′ / s per output channel).
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { fillInPlace } from "../ops/elementwise.ts";
 * import { optimizerStep } from "./optimizer.ts";
 * import { exportParameters } from "./train_params.ts";
 * import { buildModel } from "./mask_rcnn.ts";
 * import { initWeights } from "./init.ts";
 * import { createOptimizer } from "./optimizer.ts";
 * const model = await buildModel({ preset: "small" });
 * initWeights(model, { seed: 1 });
 * const opt = createOptimizer(model, { type: "sgd", lr: 0.01 });
 * const before = model.stateDict!.get("roi_heads.box_head.fc7.bias")!.data.slice();
 * for (const e of opt.entries) fillInPlace(e.grad, 1);
 * optimizerStep(opt);
 * await exportParameters(model.config, model.params!, opt.entries, model.stateDict!);
 * const after = model.stateDict!.get("roi_heads.box_head.fc7.bias")!.data;
 * assert.ok(Math.abs(after[0] - (before[0] - 0.01 * (1 + 1e-4 * before[0]))) < 1e-6); // SGD with weight decay
 * ```
 */
export async function exportParameters(
  config: MaskRcnnConfig,
  params: ModelParams,
  entries: readonly ParamEntry[],
  stateDict: StateDict,
): Promise<void> {
  const unpack = unpackers(config, params);
  const { values, scales } = await readEntries(entries, (e) => e.param);
  entries.forEach((e, i) => {
    const u = unpack.get(e.param)!;
    stateDict.set(e.name, { shape: [...u.torchShape], data: u.unpack(unfold(values[i], scales[i], 1)) });
  });
}

/**
 * The accumulated gradients in torchvision layout and w.r.t. torchvision's parameters (backbone convs:
 * g_W = g_W′ · s), keyed by name — for gradient checks and diagnostics.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { fillInPlace } from "../ops/elementwise.ts";
 * import { readGradients } from "./train_params.ts";
 * import { buildModel } from "./mask_rcnn.ts";
 * import { initWeights } from "./init.ts";
 * import { createOptimizer } from "./optimizer.ts";
 * const model = await buildModel({ preset: "small" });
 * initWeights(model, { seed: 1 });
 * const opt = createOptimizer(model, { type: "sgd", lr: 0.01 });
 * for (const e of opt.entries) fillInPlace(e.grad, 0.25);
 * const grads = await readGradients(model.config, model.params!, opt.entries);
 * const g = grads.get("roi_heads.box_predictor.bbox_pred.bias")!;
 * assert.strictEqual(g.length, 4 * 4); // 4 deltas × 4 classes, torchvision's layout
 * assert.ok(g.every((v) => v === 0.25));
 * ```
 */
export async function readGradients(
  config: MaskRcnnConfig,
  params: ModelParams,
  entries: readonly ParamEntry[],
): Promise<Map<string, Float32Array>> {
  const unpack = unpackers(config, params);
  const { values, scales } = await readEntries(entries, (e) => e.grad);
  return new Map(
    entries.map((e, i) => [e.name, unpack.get(e.param)!.unpack(unfold(values[i], scales[i], -1))]),
  );
}

/** Divides (power 1) or multiplies (power −1) each column by its scale; identity without scales. */
function unfold(packed: Float32Array, scale: Float32Array | null, power: number): Float32Array {
  if (!scale) return packed;
  const cols = scale.length;
  return packed.map((v, i) => (power > 0 ? v / scale[i % cols] : v * scale[i % cols]));
}
