import assert from "node:assert/strict";
import { resolveConfig } from "../../model/config.ts";
import { detectImages } from "../../model/detect.ts";
import { initialStateDict, type InitRule, initRules, initWeights } from "../../model/init.ts";
import { buildModel, disposeModel } from "../../model/mask_rcnn.ts";
import { loadWeights } from "../../mod.ts";
import { expectedStateDict, isPredictorName } from "../../model/state_dict_names.ts";
import { StateDictMismatchError } from "../../model/weights_errors.ts";
import { loadFixture } from "../_fixtures.ts";
import { randomInts } from "../_util.ts";

// Written by tools/reference/make_init_fixtures.py: torchvision's "small" Mask R-CNN right after
// torch.manual_seed; per tensor [numel, mean, std, min, max, kurtosis, is_constant] in float64.
const fixture = loadFixture("model/small_init.json");
const names = fixture.meta.names as string[];
const shapes = fixture.meta.shapes as number[][];
const table = fixture.tensors.stats.data as Float64Array;
const torchStats = new Map(names.map((name, i) => {
  const [n, mean, std, min, max, kurtosis, isConstant] = table.subarray(i * 7, i * 7 + 7);
  return [name, { n, mean, std, min, max, kurtosis, constant: isConstant === 1 }];
}));
type Stats = typeof torchStats extends Map<string, infer S> ? S : never;

const small = resolveConfig({ preset: "small" });
const rules = new Map(initRules(small).map((s) => [s.name, s.rule]));

function stats(data: Float32Array): Stats {
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of data) {
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = sum / data.length;
  let m2 = 0;
  let m4 = 0;
  for (const v of data) {
    const d = (v - mean) ** 2;
    m2 += d;
    m4 += d * d;
  }
  m2 /= data.length;
  m4 /= data.length;
  const constant = min === max;
  return {
    n: data.length,
    mean,
    std: Math.sqrt(m2),
    min,
    max,
    kurtosis: constant ? 0 : m4 / m2 ** 2,
    constant,
  };
}

/** Correlation of consecutive values (about N(0, 1/n) for independent draws). */
function lagOneCorrelation(data: Float32Array): number {
  const n = data.length;
  const mean = data.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    den += (data[i] - mean) ** 2;
    if (i + 1 < n) num += (data[i] - mean) * (data[i + 1] - mean);
  }
  return num / den;
}

/** Kurtosis m4/m2² of the rule's distribution. */
const kurtosisOf = (rule: InitRule) => rule.kind === "normal" ? 3 : 1.8;
const stdOf = (rule: InitRule) =>
  rule.kind === "normal" ? rule.std : rule.kind === "uniform" ? rule.bound / Math.sqrt(3) : 0;

/**
 * Problems of a sample `s` against the rule, with 5-standard-error tolerances (the sampling spread of the
 * mean is σ/√n, of the std σ√((κ−1)/(4n)) (checked from n = 100, where that is accurate), of the kurtosis
 * below √(24/n)) and exact uniform bounds.
 */
function checkAgainstRule(name: string, s: Stats, rule: InitRule, who: string): string[] {
  const bad: string[] = [];
  const tell = (what: string) => bad.push(`${who} ${name}: ${what}`);
  if (rule.kind === "constant") {
    if (!s.constant || s.min !== rule.value) {
      tell(`expected constant ${rule.value}, got [${s.min}, ${s.max}]`);
    }
    return bad;
  }
  const sigma = stdOf(rule);
  const n = s.n;
  if (Math.abs(s.mean) > 5 * sigma / Math.sqrt(n)) tell(`mean ${s.mean} vs 0 (σ ${sigma}, n ${n})`);
  const stdTol = 5 * Math.sqrt((kurtosisOf(rule) - 1) / (4 * n));
  if (n >= 100 && Math.abs(s.std / sigma - 1) > stdTol) tell(`std ${s.std} vs ${sigma} (tol ${stdTol})`);
  if (Math.abs(s.kurtosis - kurtosisOf(rule)) > 5 * Math.sqrt(24 / n)) {
    tell(`kurtosis ${s.kurtosis} vs ${kurtosisOf(rule)}`);
  }
  if (rule.kind === "uniform") {
    const b = rule.bound * (1 + 1e-6); // f32 rounding of the bound
    if (s.min < -b || s.max > b) tell(`[${s.min}, ${s.max}] leaves ±${rule.bound}`);
    const gap = 30 / n; // P(max < b(1 − gap)) = (1 − gap/2)^n ≤ exp(−15)
    if (n >= 30 && (s.max < rule.bound * (1 - gap) || s.min > -rule.bound * (1 - gap))) {
      tell(`[${s.min}, ${s.max}] does not reach ±${rule.bound}`);
    }
  } else if (n >= 1000 && Math.max(-s.min, s.max) < 2.5 * sigma) {
    tell(`max |x| ${Math.max(-s.min, s.max)} is short of a normal's tails (σ ${sigma})`);
  }
  return bad;
}

Deno.test("initialStateDict has exactly the names and shapes of torchvision's model and of expectedStateDict", () => {
  const sd = initialStateDict(small, 0);
  assert.deepEqual([...sd.keys()], names);
  assert.deepEqual([...sd.values()].map((t) => t.shape), shapes);
  assert.deepEqual(
    [...sd].map(([name, t]) => [name, t.shape]),
    expectedStateDict(small).map((e) => [e.name, e.shape]),
  );
});

Deno.test("the init rules describe torchvision's tensors: constants exact, distributions within 5 standard errors", () => {
  const bad = names.flatMap((name) =>
    checkAgainstRule(name, torchStats.get(name)!, rules.get(name)!, "torch")
  );
  assert.deepEqual(bad, []);
  const kinds = [...rules.values()].map((r) => r.kind);
  assert.deepEqual(
    ["constant", "normal", "uniform"].map((k) => kinds.filter((x) => x === k).length),
    [81, 24, 18],
  );
});

Deno.test("our tensors follow the rules and match torchvision's per-tensor statistics", () => {
  const sd = initialStateDict(small, 0);
  const bad: string[] = [];
  const worst = { mean: 0, meanName: "", std: 0 };
  for (const name of names) {
    const ours = stats(sd.get(name)!.data);
    const torch = torchStats.get(name)!;
    const rule = rules.get(name)!;
    bad.push(...checkAgainstRule(name, ours, rule, "ours"));
    if (torch.constant) {
      if (!ours.constant || ours.min !== torch.min) bad.push(`${name}: torch constant ${torch.min}`);
      continue;
    }
    if (ours.constant) bad.push(`${name}: constant, torch's is random`);
    const lag1 = lagOneCorrelation(sd.get(name)!.data);
    if (Math.abs(lag1) > 5 / Math.sqrt(torch.n)) bad.push(`${name}: neighbours correlate (${lag1})`);
    // both are samples: the difference has √2 times the spread of one
    const n = torch.n;
    const meanErr = Math.abs(ours.mean - torch.mean) / (stdOf(rule) * Math.sqrt(2 / n));
    const stdRel = Math.abs(ours.std / torch.std - 1);
    const stdTol = Math.max(0.03, 5 * Math.sqrt(2 * (kurtosisOf(rule) - 1) / (4 * n)));
    if (meanErr > 5) bad.push(`${name}: mean ${ours.mean} vs torch ${torch.mean} (${meanErr.toFixed(2)} SE)`);
    if (stdRel > stdTol) bad.push(`${name}: std ${ours.std} vs torch ${torch.std} (tol ${stdTol})`);
    if (rule.kind === "uniform") {
      const b = Math.max(-torch.min, torch.max) * (1 + Math.min(1, 30 / n));
      if (ours.min < -b || ours.max > b) bad.push(`${name}: [${ours.min}, ${ours.max}] vs torch ±${b}`);
    }
    if (meanErr > worst.mean) [worst.mean, worst.meanName] = [meanErr, name];
    if (n >= 10_000) worst.std = Math.max(worst.std, stdRel);
  }
  assert.deepEqual(bad, []);
  if (Deno.env.get("VERBOSE")) {
    console.log(
      `worst mean diff ${
        worst.mean.toFixed(2)
      } SE (${worst.meanName}), worst std diff (n ≥ 1e4) ${worst.std}`,
    );
  }
});

Deno.test("one seed reproduces bit-exactly; other seeds and other tensors differ", () => {
  const a = initialStateDict(small, 123);
  const b = initialStateDict(small, 123);
  const c = initialStateDict(small, 124);
  const big = 2 ** 40 + 123; // the high 32 bits of the seed count too
  const d = initialStateDict(small, big);
  for (const [name, t] of a) {
    assert.deepEqual(b.get(name)!.data, t.data, name);
    if (rules.get(name)!.kind === "constant") continue;
    assert.notDeepEqual(c.get(name)!.data, t.data, name);
    assert.notDeepEqual(d.get(name)!.data, t.data, name);
  }
  // tensors of the same shape and rule get different streams
  const l0 = a.get("backbone.fpn.layer_blocks.0.0.weight")!.data;
  const l1 = a.get("backbone.fpn.layer_blocks.1.0.weight")!.data;
  assert.notDeepEqual(l0, l1);
  // values depend on (seed, name) only: another class count changes only the class-dependent tensors
  const seven = initialStateDict(resolveConfig({ preset: "small", numClasses: 7 }), 123);
  assert.deepEqual(
    seven.get("roi_heads.mask_head.1.0.weight")!.data,
    a.get("roi_heads.mask_head.1.0.weight")!.data,
  );
  assert.throws(() => initialStateDict(small, -1), RangeError);
  assert.throws(() => initialStateDict(small, 1.5), RangeError);
});

Deno.test("initWeights loads a fresh model that runs detectImages", async () => {
  const model = await buildModel({ preset: "small" });
  initWeights(model, { seed: 5 });
  assert.ok(model.params && model.stateDict);
  assert.equal(model.batchNormEps, 1e-5);
  assert.deepEqual(
    model.stateDict.get("backbone.body.conv1.weight")!.data,
    initialStateDict(small, 5).get("backbone.body.conv1.weight")!.data,
  );
  const image = { data: Uint8Array.from(randomInts(64 * 64 * 3, 9, 0, 256)), width: 64, height: 64 };
  const [result] = await detectImages(model, [image]);
  assert.ok(result.count >= 0);
  assert.equal(result.boxes.length, 4 * result.count);
  assert.equal(result.masks?.length, result.count * 64 * 64);
  initWeights(model); // replaces the weights (default seed 0)
  assert.deepEqual(
    model.stateDict.get("rpn.head.conv.0.0.weight")!.data,
    initialStateDict(small, 0).get("rpn.head.conv.0.0.weight")!.data,
  );
  disposeModel(model);
});

Deno.test("loadWeights with skipPredictor takes fresh predictors from initialStateDict (fine-tuning)", async () => {
  const weights = new URL("../fixtures/model/small_trained.pth", import.meta.url).pathname;
  const model = await buildModel({ preset: "small", numClasses: 7 });
  const fresh = initialStateDict(model.config, 3);
  const initialPredictor = new Map([...fresh].filter(([name]) => isPredictorName(name)));
  assert.equal(initialPredictor.size, 6);
  await loadWeights(model, weights, { skipPredictor: true, initialPredictor });
  const cls = model.stateDict!.get("roi_heads.box_predictor.cls_score.weight")!;
  assert.deepEqual(cls.shape, [7, 128]);
  assert.equal(cls.data, fresh.get("roi_heads.box_predictor.cls_score.weight")!.data);
  const other = await buildModel({ preset: "small", numClasses: 7 });
  await assert.rejects(
    () => loadWeights(other, weights, { skipPredictor: true }),
    (e: Error) => e instanceof StateDictMismatchError && e.message.includes("+ initialPredictor"),
  );
  disposeModel(model);
});
