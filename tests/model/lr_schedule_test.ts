import assert from "node:assert/strict";
import { learningRate, validateLrSchedule } from "../../model/lr_schedule.ts";
import { loadFixture } from "../_fixtures.ts";

interface Case {
  base: number;
  warmup_iters: number;
  warmup_factor: number;
  milestones: number[];
  gamma: number;
  lrs: number[];
}

Deno.test("learningRate matches torch LinearLR + MultiStepLR chained, every iteration", () => {
  const cases = loadFixture("ops/optimizer_lr_schedule.json").meta.cases as Case[];
  assert.equal(cases.length, 3);
  for (const c of cases) {
    const options = {
      lr: c.base,
      warmupIters: c.warmup_iters,
      warmupFactor: c.warmup_factor,
      milestones: c.milestones,
      gamma: c.gamma,
    };
    validateLrSchedule(options);
    c.lrs.forEach((expected, step) => {
      const got = learningRate(step, options);
      // torch's recursive (chainable) form rounds differently from the closed form by a few ulps
      assert.ok(Math.abs(got - expected) <= 1e-12 * expected, `step ${step}: ${got} vs torch ${expected}`);
    });
  }
});

Deno.test("learningRate defaults: no warm-up, no milestones → constant", () => {
  assert.equal(learningRate(0, { lr: 0.5 }), 0.5);
  assert.equal(learningRate(12345, { lr: 0.5 }), 0.5);
  assert.equal(learningRate(3, { lr: 1, milestones: [3], gamma: 0.5 }), 0.5);
});

Deno.test("learning-rate schedule rejects bad options and steps", () => {
  assert.throws(() => validateLrSchedule({ lr: -1 }), /lr/);
  assert.throws(() => validateLrSchedule({ lr: 1, warmupIters: 1.5 }), /warmupIters/);
  assert.throws(() => validateLrSchedule({ lr: 1, warmupFactor: 0 }), /warmupFactor/);
  assert.throws(() => validateLrSchedule({ lr: 1, milestones: [5, 3] }), /milestones/);
  assert.throws(() => validateLrSchedule({ lr: 1, gamma: 0 }), /gamma/);
  assert.throws(() => learningRate(-1, { lr: 1 }), /step/);
});
