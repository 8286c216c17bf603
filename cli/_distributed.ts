/**
 * Data-parallel `train` over MPI: decides whether this process is one rank of a job (launched by mpirun,
 * mpiexec.hydra or srun, or asked with `--distributed mpi`), points it at its GPU (local rank → PCI
 * address through Mesa's device-select layer, before the first adapter request), loads the MPI binding
 * (dynamic import: a single-process run never touches `Deno.dlopen`) and returns the step function that
 * trains on this rank's share of each global batch.
 * @module
 */
import {
  type Batch,
  type DistributedStepTiming,
  distributedTrainStep,
  initMpi,
  launchInfo,
  type Losses,
  type MaskRcnnModel,
  type MpiCommunicator,
  type Optimizer,
  selectGpuForLocalRank,
  shardBatch,
} from "../mod.ts";
import { type ParsedValues, stringOption, UsageError } from "./_common.ts";

/** This process's place in a data-parallel job. */
export interface DistributedRun {
  rank: number;
  size: number;
  localRank: number;
  /** The MPI communicator (all ranks). */
  comm: MpiCommunicator;
  /** One line for the log: ranks, MPI library, GPU choice. */
  description: string;
  /** One training step of this rank on a global batch. */
  step(
    model: MaskRcnnModel,
    opt: Optimizer,
    batch: Batch,
    seed: number,
    timing?: DistributedStepTiming,
  ): Promise<Losses>;
}

/**
 * Starts MPI when `--distributed` asks for it (`mpi`) or when a launcher started several processes
 * (`auto`, the default); null for a single-process run. Must run before the first `getGpu()`.
 *
 * @example
 * ```ts
 * import { startDistributed } from "./_distributed.ts";
 * console.log(await startDistributed({ distributed: "off" })); // null
 * ```
 */
export async function startDistributed(values: ParsedValues): Promise<DistributedRun | null> {
  const mode = stringOption(values, "distributed") ?? "auto";
  if (mode !== "auto" && mode !== "mpi" && mode !== "off") {
    throw new UsageError(`--distributed must be auto, mpi or off, got ${JSON.stringify(mode)}`);
  }
  if (mode === "off") return null;
  const launch = launchInfo();
  if (mode === "auto" && (launch === null || launch.size <= 1)) return null;
  const localRank = launch?.localRank ?? launch?.rank ?? 0;
  const gpu = selectGpuForLocalRank(localRank);
  const comm = await initMpi({ library: stringOption(values, "mpi-lib"), launch });
  const where = gpu.pciAddress ? `GPU ${gpu.pciAddress} (${gpu.reason})` : gpu.reason;
  return {
    rank: comm.rank,
    size: comm.size,
    localRank,
    comm,
    description: `data-parallel over ${comm.size} ranks (${comm.flavor}: ${comm.version} from ` +
      `${comm.library}); rank ${comm.rank} local rank ${localRank}: ${where}`,
    step(model, opt, batch, seed, timing) {
      const { shard, firstImage } = shardBatch(batch, comm.rank, comm.size);
      return distributedTrainStep(model, shard, opt, comm, { seed, firstImage, timing });
    },
  };
}
