/**
 * The MPI binding: the launcher's environment read as the job layout, the library search order, the
 * clear errors (no `--allow-ffi`, no library, a library of another MPI than the launcher's), and in-place
 * sums and maxima of f32 / f64 arrays between 2 real ranks with Open MPI and with MPICH (each case
 * skipped with a message when its launcher is not installed; .ci/run installs both).
 * @module
 */
import assert from "node:assert/strict";
import { initMpi, launchInfo, MpiError, mpiLibraryCandidates } from "../../ops/mpi.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const has = (p: string) =>
  new Deno.Command("sh", { args: ["-c", `command -v ${p}`], stdout: "null" }).outputSync().success;
const OPENMPI = has("mpirun.openmpi") ? "mpirun.openmpi" : null;
const MPICH = has("mpirun.mpich") ? "mpirun.mpich" : null;
const MPI_ENV = {
  OMPI_ALLOW_RUN_AS_ROOT: "1",
  OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: "1",
  OMPI_MCA_btl: "self,vader",
  OMPI_MCA_rmaps_base_oversubscribe: "1",
  OMPI_MCA_hwloc_base_binding_policy: "none",
};

Deno.test("launchInfo reads Open MPI's, MPICH's and srun's variables; none outside a launcher", () => {
  const env = (e: Record<string, string>) => (k: string) => e[k];
  assert.deepEqual(
    launchInfo(
      env({ OMPI_COMM_WORLD_SIZE: "4", OMPI_COMM_WORLD_RANK: "3", OMPI_COMM_WORLD_LOCAL_RANK: "1" }),
    ),
    { size: 4, rank: 3, localRank: 1, launcher: "openmpi" },
  );
  assert.deepEqual(launchInfo(env({ PMI_SIZE: "2", PMI_RANK: "1", MPI_LOCALRANKID: "1" })), {
    size: 2,
    rank: 1,
    localRank: 1,
    launcher: "mpich",
  });
  assert.deepEqual(
    launchInfo(env({ SLURM_STEP_NUM_TASKS: "8", SLURM_STEP_ID: "0", SLURM_PROCID: "5", SLURM_LOCALID: "1" })),
    { size: 8, rank: 5, localRank: 1, launcher: "slurm" },
  );
  assert.equal(launchInfo(env({ SLURM_NTASKS: "8", SLURM_PROCID: "0" })), null, "a batch script is no rank");
  assert.equal(launchInfo(env({})), null);
});

Deno.test("mpiLibraryCandidates: explicit, then MASKRCNN_MPI_LIB, then the launcher's sonames first", () => {
  const none = () => undefined;
  assert.deepEqual(mpiLibraryCandidates({ library: "/opt/mpi/lib/libmpi.so", env: none }), [
    "/opt/mpi/lib/libmpi.so",
  ]);
  assert.deepEqual(mpiLibraryCandidates({ env: (k) => (k === "MASKRCNN_MPI_LIB" ? "x.so" : undefined) }), [
    "x.so",
  ]);
  assert.equal(mpiLibraryCandidates({ launcher: "openmpi", env: none })[0], "libmpi.so.40");
  assert.equal(mpiLibraryCandidates({ launcher: "mpich", env: none })[0], "libmpich.so.12");
});

Deno.test("initMpi without --allow-ffi fails with a message naming the flag", async () => {
  assert.equal((await Deno.permissions.query({ name: "ffi" })).state === "granted", false, "run without ffi");
  await assert.rejects(
    () => initMpi({ launch: null }),
    (e: Error) => e instanceof MpiError && /--allow-ffi/.test(e.message),
  );
});

async function runScript(code: string, launcher: string | null, env: Record<string, string> = {}) {
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(file, code.replaceAll("@ROOT/", ROOT));
  const cmd = launcher ?? "deno";
  const args = [
    ...(launcher ? ["-np", "2", "deno"] : []),
    "run",
    "--allow-ffi",
    "--allow-env",
    "--allow-read",
    file,
  ];
  const out = await new Deno.Command(cmd, {
    args,
    env: { ...MPI_ENV, ...env },
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  await Deno.remove(file);
  return {
    code: out.code,
    text: new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr),
  };
}

const SUMS = `
import { initMpi } from "@ROOT/ops/mpi.ts";
const mpi = await initMpi();
const f = new Float32Array([1.5 * (mpi.rank + 1), -mpi.rank, 1e30]);
const d = new Float64Array([mpi.rank + 0.25, 2 ** 40 * (mpi.rank + 1)]);
const m = new Float64Array([mpi.rank * 10, -mpi.rank]);
await Promise.all([mpi.allreduce(f), mpi.allreduce(d), mpi.allreduce(m, "max")]);
const b = new Float32Array(3).fill(mpi.rank === 1 ? 7 : 0);
await mpi.broadcast(b, 1);
await mpi.barrier();
console.log(JSON.stringify({ rank: mpi.rank, size: mpi.size, flavor: mpi.flavor, f: [...f], d: [...d], m: [...m], b: [...b] }));
await mpi.finalize();
`;

for (
  const [name, launcher, flavor] of [["Open MPI", OPENMPI, "openmpi"], ["MPICH", MPICH, "mpich"]] as const
) {
  Deno.test({
    name: `${name}: 2 ranks sum and max f32 / f64 arrays in place, broadcast and barrier`,
    ignore: launcher === null,
    async fn() {
      const run = await runScript(SUMS, launcher);
      assert.equal(run.code, 0, run.text);
      const lines = run.text.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
      assert.equal(lines.length, 2, run.text);
      for (const l of lines) {
        assert.equal(l.size, 2);
        assert.equal(l.flavor, flavor);
        assert.deepEqual(l.f, [
          4.5,
          -1,
          2e30 === Math.fround(2e30) ? 2e30 : Math.fround(Math.fround(1e30) * 2),
        ]);
        assert.deepEqual(l.d, [1.5, 3 * 2 ** 40]);
        assert.deepEqual(l.m, [10, 0]);
        assert.deepEqual(l.b, [7, 7, 7]);
      }
    },
  });
}

Deno.test({
  name: "a library of another MPI than the launcher's is refused with a message, and a missing one is named",
  ignore: OPENMPI === null || MPICH === null,
  async fn() {
    const code = `import { initMpi } from "@ROOT/ops/mpi.ts";\nawait initMpi();`;
    const wrong = await runScript(code, OPENMPI, { MASKRCNN_MPI_LIB: "libmpich.so.12" });
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.text, /does not belong to the launcher/);
    const missing = await runScript(code, null, { MASKRCNN_MPI_LIB: "/nonexistent/libmpi.so" });
    assert.notEqual(missing.code, 0);
    assert.match(missing.text, /no MPI library could be opened \(tried \/nonexistent\/libmpi\.so/);
  },
});
