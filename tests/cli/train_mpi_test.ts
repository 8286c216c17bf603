/**
 * `train` data-parallel through real MPI launchers: 2 ranks × batch 2 for 3 steps (small preset, 64×64
 * shapes, light sampling) must give the weights of 1 process × batch 4 for 3 steps with the same seed
 * (max relative difference ≤ 1e-5 per tensor; only the order of float additions differs) — with Open MPI
 * (`mpirun.openmpi … deno task train`) and with MPICH (`mpirun.mpich … deno run cli.ts train`). A run
 * stopped at step 2 by 2 Open MPI ranks resumes in 1 process to the same step-3 weights; killing one
 * rank ends the job with a message and leaves a loadable checkpoint. A launcher that is not installed
 * skips its case with a message (.ci/run installs both).
 * @module
 */
import assert from "node:assert/strict";
import { readSafetensors } from "../../data/weights/safetensors.ts";
import { runCli } from "./_cli.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const dir = await Deno.makeTempDir({ prefix: "train_mpi_" });
const config = `${dir}/c64.json`;
await Deno.writeTextFile(
  config,
  JSON.stringify({
    preset: "small",
    minSize: 64,
    maxSize: 64,
    rpnPreNmsTopNTrain: 200,
    rpnPostNmsTopNTrain: 100,
    boxBatchSizePerImage: 64,
  }),
);
const COMMON = ["--dataset", "shapes:16", "--config", config, "--batch", "4", "--seed", "3", "--lr", "0.02"];

function has(program: string): boolean {
  try {
    return new Deno.Command("sh", { args: ["-c", `command -v ${program}`], stdout: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
}

const OPENMPI = has("mpirun.openmpi") ? "mpirun.openmpi" : null;
const MPICH = has("mpirun.mpich") ? "mpirun.mpich" : has("mpiexec.hydra") ? "mpiexec.hydra" : null;

/** Environment for a one-machine job of either MPI, as root and on 2 shared cores. */
const MPI_ENV = {
  OMPI_ALLOW_RUN_AS_ROOT: "1",
  OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: "1",
  OMPI_MCA_btl: "self,vader",
  OMPI_MCA_mpi_yield_when_idle: "1",
  OMPI_MCA_rmaps_base_oversubscribe: "1",
  OMPI_MCA_hwloc_base_binding_policy: "none",
};

async function mpirun(launcher: string, args: string[]): Promise<{ code: number; text: string }> {
  const out = await new Deno.Command(launcher, {
    args: ["-np", "2", ...args],
    cwd: ROOT,
    env: MPI_ENV,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { code: out.code, text };
}

async function weights(path: string): Promise<Map<string, Float32Array>> {
  const { tensors } = readSafetensors(await Deno.readFile(path));
  return new Map([...tensors].map(([k, v]) => [k, v.data as Float32Array]));
}

/** max over tensors of max|a − b| / max|b|. */
function maxRelDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  let worst = 0;
  for (const [name, want] of b) {
    const got = a.get(name)!;
    let diff = 0, scale = 0;
    for (let i = 0; i < want.length; i++) {
      diff = Math.max(diff, Math.abs(got[i] - want[i]));
      scale = Math.max(scale, Math.abs(want[i]));
    }
    if (scale > 0) worst = Math.max(worst, diff / scale);
  }
  return worst;
}

let single: Promise<Map<string, Float32Array>> | undefined;
/** The weights of 1 process × batch 4 after 3 steps (trained once, in this process, on first use). */
function reference(): Promise<Map<string, Float32Array>> {
  single ??= (async () => {
    const out = `${dir}/single`;
    const run = await runCli(["train", ...COMMON, "--steps", "3", "--out", out]);
    assert.equal(run.code, 0, run.err.join("\n"));
    return await weights(`${out}/model.safetensors`);
  })();
  return single;
}

Deno.test({
  name: "Open MPI: mpirun -np 2 deno task train (batch 4) equals 1 process × batch 4 after 3 steps",
  ignore: OPENMPI === null,
  async fn() {
    const out = `${dir}/openmpi`;
    const run = await mpirun(OPENMPI!, ["deno", "task", "train", ...COMMON, "--steps", "3", "--out", out]);
    assert.equal(run.code, 0, run.text);
    assert.match(run.text, /data-parallel over 2 ranks \(openmpi/);
    const rel = maxRelDiff(await weights(`${out}/model.safetensors`), await reference());
    console.log(`Open MPI, 2 ranks vs 1 process: max relative weight difference ${rel.toExponential(2)}`);
    assert.ok(rel <= 1e-5, `max relative difference ${rel}`);
  },
});

Deno.test({
  name: "MPICH: mpirun -np 2 deno run cli.ts train equals 1 process × batch 4 after 3 steps",
  ignore: MPICH === null,
  async fn() {
    const out = `${dir}/mpich`;
    const run = await mpirun(MPICH!, [
      "deno",
      "run",
      "-A",
      "--unstable-webgpu",
      "cli.ts",
      "train",
      ...COMMON,
      "--steps",
      "3",
      "--out",
      out,
    ]);
    assert.equal(run.code, 0, run.text);
    assert.match(run.text, /data-parallel over 2 ranks \(mpich/);
    const rel = maxRelDiff(await weights(`${out}/model.safetensors`), await reference());
    console.log(`MPICH, 2 ranks vs 1 process: max relative weight difference ${rel.toExponential(2)}`);
    assert.ok(rel <= 1e-5, `max relative difference ${rel}`);
  },
});

Deno.test({
  name: "a 2-rank run stopped at step 2 resumes in 1 process to the weights of the uninterrupted run",
  ignore: OPENMPI === null,
  async fn() {
    const out = `${dir}/resume`;
    const first = await mpirun(OPENMPI!, ["deno", "task", "train", ...COMMON, "--steps", "2", "--out", out]);
    assert.equal(first.code, 0, first.text);
    const resumed = await runCli(["train", "--resume", "--steps", "3", "--out", out]);
    assert.equal(resumed.code, 0, resumed.err.join("\n"));
    const rel = maxRelDiff(await weights(`${out}/model.safetensors`), await reference());
    assert.ok(rel <= 1e-5, `max relative difference ${rel}`);
    const lines = (await Deno.readTextFile(`${out}/losses.jsonl`)).trim().split("\n");
    assert.deepEqual(lines.map((l) => JSON.parse(l).step), [1, 2, 3]);
  },
});

/** Pid of the `deno run … cli.ts train` process whose environment holds `OMPI_COMM_WORLD_RANK=rank` and `mark`. */
async function findRank(rank: number, mark: string): Promise<number | null> {
  // BSD-style `ps e` appends each process's environment to its command line.
  const out = await new Deno.Command("ps", { args: ["axeww", "-o", "pid=,args="], stdout: "piped" }).output();
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    const words = line.trim().split(/\s+/);
    if (words.includes(mark) && words.includes(`OMPI_COMM_WORLD_RANK=${rank}`) && words.includes("cli.ts")) {
      return Number(words[0]);
    }
  }
  return null;
}

Deno.test({
  name: "killing one rank ends the job with a message and leaves the last complete checkpoint",
  ignore: OPENMPI === null,
  async fn() {
    const out = `${dir}/killed`;
    const mark = `MASKRCNN_TEST_RUN=${crypto.randomUUID()}`;
    const child = new Deno.Command(OPENMPI!, {
      args: [
        "-np",
        "2",
        "deno",
        "run",
        "-A",
        "--unstable-webgpu",
        "cli.ts",
        "train",
        ...COMMON,
        "--steps",
        "100",
        "--checkpoint-every",
        "1",
        "--out",
        out,
      ],
      cwd: ROOT,
      env: { ...MPI_ENV, MASKRCNN_TEST_RUN: mark.split("=")[1] },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const checkpoint = `${out}/checkpoint.safetensors`;
    const deadline = Date.now() + 600_000;
    while (Date.now() < deadline) {
      try {
        await Deno.stat(checkpoint);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    const victim = await findRank(1, mark);
    assert.ok(victim !== null, "rank 1 is running");
    Deno.kill(victim, "SIGKILL");
    const result = await child.output();
    const text = new TextDecoder().decode(result.stdout) + new TextDecoder().decode(result.stderr);
    assert.notEqual(result.code, 0, text);
    assert.match(text, /rank 1|signal 9|Killed/i, text);
    const state = readSafetensors(await Deno.readFile(checkpoint));
    assert.ok(state.tensors.size > 0, "the checkpoint is complete and readable");
    const step = state.metadata.step;
    const said = text.split("\n").filter((l) => /noticed|stopped by a signal/.test(l)).join(" | ");
    console.log(`killed rank 1 after step ${step}; the job said: ${said}`);
  },
});
