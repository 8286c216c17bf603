/**
 * From-scratch initialisation following torchvision 0.14's module initialisers, so a model can train
 * without a checkpoint: {@link initRules} says per tensor what torchvision draws, {@link initialStateDict}
 * draws it (seeded), {@link initWeights} loads it into a model.
 *
 * The rules, tensor by tensor (fan_in = `shape[1] * kH * kW`, fan_out = `shape[0] * kH * kW`, as
 * `torch.nn.init._calculate_fan_in_and_fan_out`):
 * - ResNet body convs (`ResNet.__init__`): `kaiming_normal_(mode="fan_out", nonlinearity="relu")`, i.e.
 *   N(0, 2 / fan_out). FrozenBatchNorm2d buffers: weight 1, bias 0, running_mean 0, running_var 1
 *   (`zero_init_residual` is False, so bn3 keeps weight 1).
 * - FPN inner / layer blocks: `kaiming_uniform_(a=1)`, i.e. U(±√3 / √fan_in); biases 0.
 * - RPNHead convs: N(0, 0.01²); biases 0.
 * - TwoMLPHead fc6 / fc7 and FastRCNNPredictor: `nn.Linear` defaults, weight `kaiming_uniform_(a=√5)`,
 *   i.e. U(±√3 · √(1/3) / √fan_in) = U(±1/√fan_in), bias U(±1/√fan_in).
 * - MaskRCNNHeads convs (Conv2dNormActivation without norm): kaiming_normal_ fan_out relu; biases 0.
 * - MaskRCNNPredictor: every weight kaiming_normal_ fan_out relu (ConvTranspose2d `conv5_mask` weights
 *   are `[in, out, 2, 2]`, so its fan_out is `in * 4`); its biases keep the conv defaults,
 *   U(±1/√fan_in) with `fan_in = weight.shape[1] * kH * kW` (`out * 4` for conv5_mask).
 *
 * The random numbers cannot be torch's (its CPU generator is not reproduced); what matches is the
 * distribution and every constant. The generator: each tensor gets its own xoshiro128** stream whose
 * 128-bit state is four splitmix32 outputs from a 32-bit key that absorbs the seed (low and high 32 bits)
 * and the tensor name, so a tensor's values depend only on (seed, name), not on the other tensors (a
 * Faster R-CNN and a Mask R-CNN share backbone values; another class count changes only the predictors).
 * Uniform values are `lo + (hi − lo) · u` with 24-bit `u` in [0, 1); normal values use both outputs of
 * Box–Muller on two 32-bit draws; each rounded once to f32.
 * @module
 */
import type { MaskRcnnConfig } from "./config.ts";
import { type MaskRcnnModel, setStateDict } from "./mask_rcnn.ts";
import { expectedStateDict } from "./state_dict_names.ts";
import type { StateDict } from "./state_dict.ts";
import { WeightsError } from "./weights_errors.ts";

/** How torchvision 0.14 initialises one tensor. */
export type InitRule =
  | { kind: "constant"; value: number }
  | { kind: "normal"; std: number }
  | { kind: "uniform"; bound: number };

/** One tensor of {@link initRules}: name, shape and rule. */
export interface InitSpec {
  name: string;
  shape: number[];
  rule: InitRule;
}

const RELU_GAIN = Math.SQRT2;

function fans(shape: readonly number[]): [number, number] {
  const receptive = shape.slice(2).reduce((p, d) => p * d, 1);
  return [shape[1] * receptive, shape[0] * receptive];
}

/** kaiming_normal_(mode="fan_out", nonlinearity="relu"). */
const kaimingNormalFanOut = (w: readonly number[]): InitRule => ({
  kind: "normal",
  std: RELU_GAIN / Math.sqrt(fans(w)[1]),
});
/** kaiming_uniform_(a) with mode fan_in: bound = √3 · √(2 / (1 + a²)) / √fan_in. */
const kaimingUniform = (w: readonly number[], a: number): InitRule => ({
  kind: "uniform",
  bound: Math.sqrt(3) * Math.sqrt(2 / (1 + a * a)) / Math.sqrt(fans(w)[0]),
});
/** Default bias of nn.Linear / nn.Conv2d / nn.ConvTranspose2d: U(±1/√fan_in of the weight). */
const defaultBias = (w: readonly number[]): InitRule => ({
  kind: "uniform",
  bound: 1 / Math.sqrt(fans(w)[0]),
});
const constant = (value: number): InitRule => ({ kind: "constant", value });

const FROZEN_BN: Record<string, number> = { weight: 1, bias: 0, running_mean: 0, running_var: 1 };

function ruleFor(name: string, shape: number[], shapes: ReadonlyMap<string, number[]>): InitRule {
  const dot = name.lastIndexOf(".");
  const module = name.slice(0, dot);
  const param = name.slice(dot + 1);
  const weight = shapes.get(`${module}.weight`);
  const unknown = () =>
    new WeightsError("<state_dict>", `initialStateDict: no torchvision initialiser known for ${name}`);
  if (name.startsWith("backbone.body.")) {
    if (shape.length === 4 && param === "weight") return kaimingNormalFanOut(shape);
    if (param in FROZEN_BN && /\.(bn\d|downsample\.1)$/.test(module)) return constant(FROZEN_BN[param]);
    throw unknown();
  }
  if (!weight || (param !== "weight" && param !== "bias")) throw unknown();
  const isWeight = param === "weight";
  if (name.startsWith("backbone.fpn.")) return isWeight ? kaimingUniform(weight, 1) : constant(0);
  if (name.startsWith("rpn.head.")) return isWeight ? { kind: "normal", std: 0.01 } : constant(0);
  if (/^roi_heads\.(box_head|box_predictor)\./.test(name)) {
    return isWeight ? kaimingUniform(weight, Math.sqrt(5)) : defaultBias(weight);
  }
  if (name.startsWith("roi_heads.mask_head.")) return isWeight ? kaimingNormalFanOut(weight) : constant(0);
  if (name.startsWith("roi_heads.mask_predictor.")) {
    return isWeight ? kaimingNormalFanOut(weight) : defaultBias(weight);
  }
  throw unknown();
}

/**
 * Every tensor `config` implies (names and order of {@link expectedStateDict}) with torchvision 0.14's
 * initialisation rule for it.
 *
 * @example
 * ```ts
 * import { resolveConfig } from "./config.ts";
 * import { initRules } from "./init.ts";
 * const rules = initRules(resolveConfig({ preset: "small" }));
 * console.log(rules.find((r) => r.name === "rpn.head.cls_logits.weight")?.rule); // { kind: "normal", std: 0.01 }
 * ```
 */
export function initRules(config: MaskRcnnConfig): InitSpec[] {
  const expected = expectedStateDict(config);
  const shapes = new Map(expected.map(({ name, shape }) => [name, shape]));
  return expected.map(({ name, shape }) => ({ name, shape, rule: ruleFor(name, shape, shapes) }));
}

/** splitmix32's output function (a bijection of u32). */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** A xoshiro128** generator of u32 values; state from splitmix32 over a key of (seed, name). */
function streamFor(seed: number, name: string): () => number {
  let key = mix32((seed >>> 0) + 0x9e3779b9);
  key = mix32((key ^ Math.floor(seed / 0x100000000)) + 0x9e3779b9);
  for (let i = 0; i < name.length; i++) key = mix32((key ^ name.charCodeAt(i)) + 0x9e3779b9);
  const s = new Uint32Array(4);
  for (let i = 0; i < 4; i++) {
    key = (key + 0x9e3779b9) >>> 0;
    s[i] = mix32(key);
  }
  return () => {
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

function fill(data: Float32Array, rule: InitRule, next: () => number): void {
  if (rule.kind === "constant") {
    data.fill(rule.value);
  } else if (rule.kind === "uniform") {
    const lo = -rule.bound;
    const span = 2 * rule.bound;
    for (let i = 0; i < data.length; i++) data[i] = lo + span * ((next() >>> 8) * 2 ** -24);
  } else {
    for (let i = 0; i < data.length; i += 2) {
      const u1 = (next() + 0.5) * 2 ** -32; // (0, 1): the log stays finite
      const theta = 2 * Math.PI * next() * 2 ** -32;
      const r = rule.std * Math.sqrt(-2 * Math.log(u1));
      data[i] = r * Math.cos(theta);
      if (i + 1 < data.length) data[i + 1] = r * Math.sin(theta);
    }
  }
}

/**
 * A freshly initialised state_dict for `config`, drawn the way torchvision 0.14's modules initialise
 * themselves (see the module notes), with canonical names, in torchvision's order. The same `seed` (a
 * non-negative safe integer) gives bit-identical tensors.
 *
 * @example
 * ```ts
 * import { resolveConfig } from "./config.ts";
 * import { initialStateDict } from "./init.ts";
 * const sd = initialStateDict(resolveConfig({ preset: "small" }), 7);
 * console.log(sd.get("backbone.body.bn1.running_var")?.data[0]); // 1
 * ```
 */
export function initialStateDict(config: MaskRcnnConfig, seed: number): StateDict {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(`initialStateDict: seed must be a non-negative safe integer, got ${seed}`);
  }
  const out: StateDict = new Map();
  for (const { name, shape, rule } of initRules(config)) {
    const data = new Float32Array(shape.reduce((p, d) => p * d, 1));
    fill(data, rule, streamFor(seed, name));
    out.set(name, { shape: [...shape], data });
  }
  return out;
}

/** Options of {@link initWeights}. */
export interface InitWeightsOptions {
  /** Seed of {@link initialStateDict} (default 0). */
  seed?: number;
}

/**
 * Initialises the model from scratch like torchvision 0.14 (see {@link initialStateDict}) and packs the
 * weights onto the GPU as `loadWeights` does (FrozenBatchNorm2d eps 1e-5), replacing any loaded weights.
 *
 * @example
 * ```ts
 * import { buildModel } from "./mask_rcnn.ts";
 * import { initWeights } from "./init.ts";
 * const model = await buildModel({ preset: "small" });
 * initWeights(model, { seed: 42 });
 * ```
 */
export function initWeights(model: MaskRcnnModel, options: InitWeightsOptions = {}): void {
  setStateDict(model, initialStateDict(model.config, options.seed ?? 0), { file: "initialStateDict" });
}
