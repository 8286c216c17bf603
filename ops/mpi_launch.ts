/**
 * Where this process stands in an MPI job, from the launcher's environment variables alone (mpirun,
 * mpiexec.hydra, srun): no FFI, so a script can ask before deciding to load MPI (`mpi.ts`) and before
 * picking its GPU.
 * @module
 */

/** What the launcher (mpirun, mpiexec.hydra, srun) told this process through its environment. */
export interface LaunchInfo {
  /** Processes in the job. */
  size: number;
  /** This process's rank. */
  rank: number;
  /** Rank among the processes on this machine (picks the GPU), when the launcher says. */
  localRank: number | null;
  /** Which launcher: "openmpi", "mpich" (Hydra / PMI) or "slurm". */
  launcher: "openmpi" | "mpich" | "slurm";
}

function envInt(env: (name: string) => string | undefined, name: string): number | null {
  const text = env(name);
  if (text === undefined || text === "") return null;
  const n = Number(text);
  return Number.isInteger(n) && n >= 0 ? n : null;
}

/**
 * An environment variable, or undefined without env permission (never prompts).
 *
 * @example
 * ```ts
 * import { readEnv } from "./mpi_launch.ts";
 * console.log(readEnv("OMPI_COMM_WORLD_SIZE")); // undefined outside mpirun (or without --allow-env)
 * ```
 */
export function readEnv(name: string): string | undefined {
  try {
    if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") return undefined;
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/**
 * The job layout from the launcher's environment variables, or null when this process was not started
 * by an MPI launcher. Open MPI: `OMPI_COMM_WORLD_SIZE/RANK/LOCAL_RANK`; MPICH's Hydra: `PMI_SIZE`,
 * `PMI_RANK`, `MPI_LOCALRANKID`; Slurm's `srun`: `SLURM_STEP_NUM_TASKS`, `SLURM_PROCID`, `SLURM_LOCALID`
 * (only inside a job step, so a batch script itself is not mistaken for a rank).
 *
 * @example
 * ```ts
 * import { launchInfo } from "./mpi_launch.ts";
 * const env: Record<string, string> = { OMPI_COMM_WORLD_SIZE: "2", OMPI_COMM_WORLD_RANK: "1" };
 * console.log(launchInfo((k) => env[k])); // { size: 2, rank: 1, localRank: null, launcher: "openmpi" }
 * ```
 */
export function launchInfo(env: (name: string) => string | undefined = readEnv): LaunchInfo | null {
  const ompi = envInt(env, "OMPI_COMM_WORLD_SIZE");
  if (ompi !== null) {
    return {
      size: ompi,
      rank: envInt(env, "OMPI_COMM_WORLD_RANK") ?? 0,
      localRank: envInt(env, "OMPI_COMM_WORLD_LOCAL_RANK"),
      launcher: "openmpi",
    };
  }
  const pmi = envInt(env, "PMI_SIZE");
  if (pmi !== null) {
    return {
      size: pmi,
      rank: envInt(env, "PMI_RANK") ?? 0,
      localRank: envInt(env, "MPI_LOCALRANKID"),
      launcher: "mpich",
    };
  }
  const slurm = envInt(env, "SLURM_STEP_NUM_TASKS");
  if (slurm !== null && env("SLURM_STEP_ID") !== undefined) {
    return {
      size: slurm,
      rank: envInt(env, "SLURM_PROCID") ?? 0,
      localRank: envInt(env, "SLURM_LOCALID"),
      launcher: "slurm",
    };
  }
  return null;
}
