/**
 * The model's parameters on the GPU, packed once from a torchvision state_dict: frozen batch norms folded
 * into the preceding convs, conv weights in the implicit-GEMM layout, fc6's columns permuted from torch's
 * C·H·W flatten order to our NHWC order. Names follow torchvision 0.14 (see `state_dict_names.ts`).
 * @module
 */
import { foldFrozenBatchNorm, packConv2dWeights, type PackedConv2d } from "../ops/conv2d.ts";
import { type PackedLinear, packLinearWeights } from "../ops/linear.ts";
import { packConvTranspose2dWeights, type PackedConvTranspose2d } from "../ops/conv_transpose2d.ts";
import { Tensor } from "../ops/tensor.ts";
import type { MaskRcnnConfig } from "./config.ts";
import type { StateDict, WeightTensor } from "./state_dict.ts";
import { WeightsError } from "./weights_errors.ts";

/** One ResNet bottleneck: 1×1 → 3×3 (stride) → 1×1 (+ downsample) with the BNs folded in. */
export interface BottleneckParams {
  conv1: PackedConv2d;
  conv2: PackedConv2d;
  conv3: PackedConv2d;
  downsample: PackedConv2d | null;
  stride: number;
}

/** Every GPU parameter of a Mask R-CNN (mask branch null for Faster R-CNN). */
export interface ModelParams {
  stem: PackedConv2d;
  layers: BottleneckParams[][];
  fpnInner: PackedConv2d[];
  fpnLayer: PackedConv2d[];
  rpnConv: PackedConv2d;
  rpnCls: PackedConv2d;
  rpnBbox: PackedConv2d;
  fc6: PackedLinear;
  fc7: PackedLinear;
  clsScore: PackedLinear;
  bboxPred: PackedLinear;
  mask: { convs: PackedConv2d[]; upsample: PackedConvTranspose2d; logits: PackedConv2d } | null;
}

/** Options of {@link uploadParams}. */
export interface UploadParamsOptions {
  /** FrozenBatchNorm2d eps (torchvision's default 1e-5; its COCO_V1 checkpoints use 0). */
  batchNormEps?: number;
}

function take(stateDict: StateDict, name: string): WeightTensor {
  const t = stateDict.get(name);
  if (!t) throw new WeightsError("<state_dict>", `uploadParams: state_dict has no tensor "${name}"`);
  return t;
}

function shape4(t: WeightTensor): [number, number, number, number] {
  const [a, b, c = 1, d = 1] = t.shape;
  return [a, b, c, d];
}

function convBn(stateDict: StateDict, conv: string, bn: string, eps: number): PackedConv2d {
  const w = take(stateDict, `${conv}.weight`);
  const folded = foldFrozenBatchNorm(
    w.data,
    undefined,
    take(stateDict, `${bn}.weight`).data,
    take(stateDict, `${bn}.bias`).data,
    take(stateDict, `${bn}.running_mean`).data,
    take(stateDict, `${bn}.running_var`).data,
    eps,
  );
  return packConv2dWeights(folded.weight, shape4(w), folded.bias);
}

function conv(stateDict: StateDict, name: string): PackedConv2d {
  const w = take(stateDict, `${name}.weight`);
  return packConv2dWeights(w.data, shape4(w), stateDict.get(`${name}.bias`)?.data);
}

function fc(stateDict: StateDict, name: string, nchwInput?: [number, number, number]): PackedLinear {
  const w = take(stateDict, `${name}.weight`);
  return packLinearWeights(w.data, [w.shape[0], w.shape[1]], take(stateDict, `${name}.bias`).data, {
    nchwInput,
  });
}

/**
 * Packs a canonical, checked state_dict (see `checkStateDict`) onto the GPU.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { getGpu } from "../ops/gpu.ts";
 * import { resolveConfig } from "./config.ts";
 * import { initialStateDict } from "./init.ts";
 * import { paramTensors, uploadParams } from "./params.ts";
 * await getGpu();
 * const config = resolveConfig({ preset: "small" });
 * const params = uploadParams(config, initialStateDict(config, 1)); // or a state_dict from loadStateDict
 * assert.strictEqual(params.layers.length, 4); // ResNet stages layer1..layer4
 * assert.ok(params.mask !== null); // a Mask R-CNN config packs the mask head too
 * for (const t of paramTensors(params)) t.dispose();
 * ```
 */
export function uploadParams(
  config: MaskRcnnConfig,
  stateDict: StateDict,
  options: UploadParamsOptions = {},
): ModelParams {
  const eps = options.batchNormEps ?? 1e-5;
  const body = "backbone.body";
  const layers = config.backbone.blocks.map((count, stage) =>
    Array.from({ length: count }, (_, block) => {
      const prefix = `${body}.layer${stage + 1}.${block}`;
      const hasDownsample = stateDict.has(`${prefix}.downsample.0.weight`);
      return {
        conv1: convBn(stateDict, `${prefix}.conv1`, `${prefix}.bn1`, eps),
        conv2: convBn(stateDict, `${prefix}.conv2`, `${prefix}.bn2`, eps),
        conv3: convBn(stateDict, `${prefix}.conv3`, `${prefix}.bn3`, eps),
        downsample: hasDownsample
          ? convBn(stateDict, `${prefix}.downsample.0`, `${prefix}.downsample.1`, eps)
          : null,
        stride: block === 0 && stage > 0 ? 2 : 1,
      };
    })
  );
  const c = config.fpnChannels;
  return {
    stem: convBn(stateDict, `${body}.conv1`, `${body}.bn1`, eps),
    layers,
    fpnInner: [0, 1, 2, 3].map((i) => conv(stateDict, `backbone.fpn.inner_blocks.${i}.0`)),
    fpnLayer: [0, 1, 2, 3].map((i) => conv(stateDict, `backbone.fpn.layer_blocks.${i}.0`)),
    rpnConv: conv(stateDict, "rpn.head.conv.0.0"),
    rpnCls: conv(stateDict, "rpn.head.cls_logits"),
    rpnBbox: conv(stateDict, "rpn.head.bbox_pred"),
    fc6: fc(stateDict, "roi_heads.box_head.fc6", [c, 7, 7]),
    fc7: fc(stateDict, "roi_heads.box_head.fc7"),
    clsScore: fc(stateDict, "roi_heads.box_predictor.cls_score"),
    bboxPred: fc(stateDict, "roi_heads.box_predictor.bbox_pred"),
    mask: config.maskHead
      ? {
        convs: config.maskHeadLayers.map((_, i) => conv(stateDict, `roi_heads.mask_head.${i}.0`)),
        upsample: (() => {
          const w = take(stateDict, "roi_heads.mask_predictor.conv5_mask.weight");
          return packConvTranspose2dWeights(
            w.data,
            [w.shape[0], w.shape[1]],
            take(stateDict, "roi_heads.mask_predictor.conv5_mask.bias").data,
          );
        })(),
        logits: conv(stateDict, "roi_heads.mask_predictor.mask_fcn_logits"),
      }
      : null,
  };
}

/**
 * Every GPU tensor held by the parameters (for disposal and memory accounting).
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { getGpu } from "../ops/gpu.ts";
 * import { resolveConfig } from "./config.ts";
 * import { initialStateDict } from "./init.ts";
 * import { paramTensors, uploadParams } from "./params.ts";
 * await getGpu();
 * const config = resolveConfig({ preset: "small" });
 * const tensors = paramTensors(uploadParams(config, initialStateDict(config, 1)));
 * assert.strictEqual(new Set(tensors).size, tensors.length); // each tensor once
 * for (const t of tensors) t.dispose();
 * assert.ok(tensors.every((t) => t.disposed));
 * ```
 */
export function paramTensors(params: ModelParams): Tensor[] {
  const out: Tensor[] = [];
  const visit = (value: unknown) => {
    if (value instanceof Tensor) {
      out.push(value);
      return;
    }
    if (!value || typeof value !== "object") return;
    for (const v of Object.values(value)) visit(v);
  };
  visit(params);
  return out;
}
