/**
 * The trainable parameters of a model for training: one record per torchvision tensor name holding the
 * tensor the optimizer updates, its gradient (same packed layout) and how to turn the packed layout back
 * into torchvision's. Frozen-batch-norm convs keep an unfolded master weight: the forward uses
 * folded = master · scale (per output channel), backward accumulates the folded weight's gradient, and
 * {@link masterGradients} turns it into the master's (· scale) so SGD / AdamW see exactly torchvision's
 * parameters and gradients. Which ResNet stages train follows torchvision's `trainable_backbone_layers`.
 * @module
 */
import { fillInPlace } from "../ops/elementwise.ts";
import { packConv2dWeights, type PackedConv2d } from "../ops/conv2d.ts";
import type { PackedConvTranspose2d } from "../ops/conv_transpose2d.ts";
import type { PackedLinear } from "../ops/linear.ts";
import { scaleColumns } from "../ops/scale_columns.ts";
import { emptyTensor, keep, readTensors, type Tensor, tensorFromArray } from "../ops/tensor.ts";
import type { MaskRcnnConfig } from "./config.ts";
import type { ModelParams } from "./params.ts";
import type { StateDict } from "./weights.ts";

/** One trainable tensor. */
export interface TrainableParam {
  /** torchvision name, e.g. `backbone.body.layer2.0.conv1.weight`. */
  name: string;
  /** The tensor the optimizer updates (packed layout; for BN convs the unfolded master). */
  value: Tensor;
  /** Its gradient, same shape (backward accumulates into it). */
  grad: Tensor;
  /** torchvision's shape of the tensor. */
  torchShape: number[];
  /** Packed → torchvision layout (CPU). */
  unpack: (packed: Float32Array) => Float32Array;
  /** BN convs: the forward's folded weight and the per-column scale (folded = value · scale). */
  folded?: { weight: Tensor; scale: Tensor };
}

/** Gradient targets of one packed layer (absent members are frozen). */
export interface LayerGrads {
  weight?: Tensor;
  bias?: Tensor;
}

/** Everything training needs on top of the inference parameters. */
export interface TrainableParams {
  list: TrainableParam[];
  /** Gradient targets per packed layer object (conv, linear, transposed conv); frozen layers are absent. */
  grads: Map<object, LayerGrads>;
}

function unpackConv(cout: number, cin: number, kh: number, kw: number, cols: number) {
  return (p: Float32Array) => {
    const out = new Float32Array(cout * cin * kh * kw);
    for (let co = 0; co < cout; co++) {
      for (let ci = 0; ci < cin; ci++) {
        for (let y = 0; y < kh; y++) {
          for (let x = 0; x < kw; x++) {
            out[((co * cin + ci) * kh + y) * kw + x] = p[((y * kw + x) * cin + ci) * cols + co];
          }
        }
      }
    }
    return out;
  };
}

const firstColumns = (count: number) => (p: Float32Array) => p.slice(0, count);

/** Unpacks a linear layer's [in, cols] weight (fc6's rows are in NHWC flatten order: `nchw` undoes it). */
function unpackLinear(out: number, inF: number, cols: number, nchw?: [number, number, number]) {
  return (p: Float32Array) => {
    const w = new Float32Array(out * inF);
    for (let i = 0; i < inF; i++) {
      let src = i;
      if (nchw) {
        const [c, h, wd] = nchw;
        const ch = i % c, x = Math.floor(i / c) % wd, y = Math.floor(i / (c * wd));
        src = (ch * h + y) * wd + x;
      }
      for (let o = 0; o < out; o++) w[o * inF + src] = p[i * cols + o];
    }
    return w;
  };
}

function unpackConvTranspose(cin: number, cout: number) {
  return (p: Float32Array) => {
    const w = new Float32Array(cin * cout * 4);
    for (let ci = 0; ci < cin; ci++) {
      for (let co = 0; co < cout; co++) {
        for (let q = 0; q < 4; q++) w[(ci * cout + co) * 4 + q] = p[ci * 4 * cout + q * cout + co];
      }
    }
    return w;
  };
}

/** The ResNet stage prefixes that train for `trainableBackboneLayers` (torchvision's rule). */
export function trainableStages(layers: number): string[] {
  return ["layer4", "layer3", "layer2", "layer1", "conv1"].slice(0, layers);
}

/**
 * Builds the trainable records for a model whose parameters are on the GPU (`stateDict` is the CPU copy
 * they were packed from; BN convs get their unfolded masters from it).
 *
 * @example
 * ```ts
 * // const trainable = trainableParams(model.config, model.params!, model.stateDict!);
 * import { trainableParams } from "./train_params.ts";
 * console.log(typeof trainableParams);
 * ```
 */
export function trainableParams(
  config: MaskRcnnConfig,
  params: ModelParams,
  stateDict: StateDict,
  batchNormEps = 1e-5,
): TrainableParams {
  const list: TrainableParam[] = [];
  const grads = new Map<object, LayerGrads>();
  const zeros = (like: Tensor) => keep(fillInPlace(emptyTensor(like.shape, "f32"), 0));
  const stages = trainableStages(config.trainableBackboneLayers);

  const addConv = (packed: PackedConv2d, torchPrefix: string, bnPrefix: string | null) => {
    const cols = packed.weight.shape[1];
    const torchShape = [packed.cout, packed.cin, packed.kh, packed.kw];
    const unpack = unpackConv(packed.cout, packed.cin, packed.kh, packed.kw, cols);
    const layer: LayerGrads = {};
    if (bnPrefix) {
      const w = stateDict.get(`${torchPrefix}.weight`)!.data;
      const master = keep(packConv2dWeights(w, torchShape as [number, number, number, number]).weight);
      const bnW = stateDict.get(`${bnPrefix}.weight`)!.data;
      const rv = stateDict.get(`${bnPrefix}.running_var`)!.data;
      const scale = new Float32Array(cols);
      for (let c = 0; c < packed.cout; c++) {
        scale[c] = Math.fround(bnW[c] / Math.sqrt(Math.fround(rv[c] + batchNormEps)));
      }
      const entry: TrainableParam = {
        name: `${torchPrefix}.weight`,
        value: master,
        grad: zeros(master),
        torchShape,
        unpack,
        folded: { weight: packed.weight, scale: keep(tensorFromArray(scale, [cols])) },
      };
      list.push(entry);
      layer.weight = entry.grad;
    } else {
      const entry = {
        name: `${torchPrefix}.weight`,
        value: packed.weight,
        grad: zeros(packed.weight),
        torchShape,
        unpack,
      };
      list.push(entry);
      layer.weight = entry.grad;
      if (packed.bias) {
        const bias = {
          name: `${torchPrefix}.bias`,
          value: packed.bias,
          grad: zeros(packed.bias),
          torchShape: [packed.cout],
          unpack: firstColumns(packed.cout),
        };
        list.push(bias);
        layer.bias = bias.grad;
      }
    }
    grads.set(packed, layer);
  };
  const addLinear = (packed: PackedLinear, prefix: string, nchw?: [number, number, number]) => {
    const cols = packed.weight.shape[1];
    const weight = {
      name: `${prefix}.weight`,
      value: packed.weight,
      grad: zeros(packed.weight),
      torchShape: [packed.out, packed.in],
      unpack: unpackLinear(packed.out, packed.in, cols, nchw),
    };
    const bias = {
      name: `${prefix}.bias`,
      value: packed.bias!,
      grad: zeros(packed.bias!),
      torchShape: [packed.out],
      unpack: firstColumns(packed.out),
    };
    list.push(weight, bias);
    grads.set(packed, { weight: weight.grad, bias: bias.grad });
  };
  const addConvTranspose = (packed: PackedConvTranspose2d, prefix: string) => {
    const weight = {
      name: `${prefix}.weight`,
      value: packed.weight,
      grad: zeros(packed.weight),
      torchShape: [packed.cin, packed.cout, 2, 2],
      unpack: unpackConvTranspose(packed.cin, packed.cout),
    };
    const bias = {
      name: `${prefix}.bias`,
      value: packed.bias!,
      grad: zeros(packed.bias!),
      torchShape: [packed.cout],
      unpack: firstColumns(packed.cout),
    };
    list.push(weight, bias);
    grads.set(packed, { weight: weight.grad, bias: bias.grad });
  };

  const body = "backbone.body";
  if (stages.includes("conv1")) addConv(params.stem, `${body}.conv1`, `${body}.bn1`);
  params.layers.forEach((stage, s) => {
    if (!stages.includes(`layer${s + 1}`)) return;
    stage.forEach((block, b) => {
      const p = `${body}.layer${s + 1}.${b}`;
      addConv(block.conv1, `${p}.conv1`, `${p}.bn1`);
      addConv(block.conv2, `${p}.conv2`, `${p}.bn2`);
      addConv(block.conv3, `${p}.conv3`, `${p}.bn3`);
      if (block.downsample) addConv(block.downsample, `${p}.downsample.0`, `${p}.downsample.1`);
    });
  });
  params.fpnInner.forEach((c, i) => addConv(c, `backbone.fpn.inner_blocks.${i}.0`, null));
  params.fpnLayer.forEach((c, i) => addConv(c, `backbone.fpn.layer_blocks.${i}.0`, null));
  addConv(params.rpnConv, "rpn.head.conv.0.0", null);
  addConv(params.rpnCls, "rpn.head.cls_logits", null);
  addConv(params.rpnBbox, "rpn.head.bbox_pred", null);
  addLinear(params.fc6, "roi_heads.box_head.fc6", [config.fpnChannels, 7, 7]);
  addLinear(params.fc7, "roi_heads.box_head.fc7");
  addLinear(params.clsScore, "roi_heads.box_predictor.cls_score");
  addLinear(params.bboxPred, "roi_heads.box_predictor.bbox_pred");
  if (params.mask) {
    params.mask.convs.forEach((c, i) => addConv(c, `roi_heads.mask_head.${i}.0`, null));
    addConvTranspose(params.mask.upsample, "roi_heads.mask_predictor.conv5_mask");
    addConv(params.mask.logits, "roi_heads.mask_predictor.mask_fcn_logits", null);
  }
  return { list, grads };
}

/**
 * Zero-fills every gradient (call at the start of a step).
 *
 * @example
 * ```ts
 * import { zeroGradients } from "./train_params.ts";
 * console.log(typeof zeroGradients);
 * ```
 */
export function zeroGradients(trainable: TrainableParams): void {
  for (const p of trainable.list) fillInPlace(p.grad, 0);
}

/**
 * Turns the accumulated gradients of folded BN-conv weights into gradients of their masters (· scale).
 *
 * @example
 * ```ts
 * import { masterGradients } from "./train_params.ts";
 * console.log(typeof masterGradients);
 * ```
 */
export function masterGradients(trainable: TrainableParams): void {
  for (const p of trainable.list) if (p.folded) scaleColumns(p.grad, p.folded.scale, p.grad);
}

/**
 * Re-derives the forward's folded BN-conv weights from the masters (after an optimizer update).
 *
 * @example
 * ```ts
 * import { refreshFolded } from "./train_params.ts";
 * console.log(typeof refreshFolded);
 * ```
 */
export function refreshFolded(trainable: TrainableParams): void {
  for (const p of trainable.list) if (p.folded) scaleColumns(p.value, p.folded.scale, p.folded.weight);
}

/**
 * Reads every trainable tensor back (one read-back) and writes it into `stateDict` in torchvision layout.
 *
 * @example
 * ```ts
 * import { exportTrainable } from "./train_params.ts";
 * console.log(typeof exportTrainable);
 * ```
 */
export async function exportTrainable(trainable: TrainableParams, stateDict: StateDict): Promise<void> {
  const values = await readTensors(trainable.list.map((p) => p.value));
  trainable.list.forEach((p, i) => {
    stateDict.set(p.name, { shape: [...p.torchShape], data: p.unpack(values[i] as Float32Array) });
  });
}

/**
 * Reads every gradient back in torchvision layout (for tests and diagnostics).
 *
 * @example
 * ```ts
 * import { readGradients } from "./train_params.ts";
 * console.log(typeof readGradients);
 * ```
 */
export async function readGradients(trainable: TrainableParams): Promise<Map<string, Float32Array>> {
  const values = await readTensors(trainable.list.map((p) => p.grad));
  return new Map(trainable.list.map((p, i) => [p.name, p.unpack(values[i] as Float32Array)]));
}
