/**
 * MPI through Deno's FFI, for data-parallel training: finds and opens the MPI library (Open MPI, MPICH or
 * an MPI 5 standard-ABI `libmpi_abi`), initialises it with `MPI_THREAD_MULTIPLE`, and offers the few
 * collectives training needs on `MPI_COMM_WORLD` — in-place all-reduce (sum, max) of f32 / f64 arrays,
 * broadcast, barrier and abort. Collectives are `nonblocking` FFI calls: they run on a worker thread and
 * leave Deno's event loop running (signals, timers, GPU callbacks); calls on one communicator are queued
 * so every rank issues them in the same order.
 *
 * Handles differ by implementation: Open MPI's are addresses of exported objects (`ompi_mpi_comm_world`,
 * `ompi_mpi_float`, `ompi_mpi_op_sum`; `MPI_IN_PLACE` = 1); MPICH's are 32-bit integers (`MPI_COMM_WORLD`
 * = 0x44000000; `MPI_IN_PLACE` = −1); the standard ABI's are small integers cast to pointers (0x101, ...;
 * `MPI_IN_PLACE` = 1). The flavour is recognised from the library's exported symbols.
 *
 * Library search: `options.library`, then `$MASKRCNN_MPI_LIB`, then the sonames of the implementation
 * whose launcher started this process (`OMPI_*` → Open MPI's `libmpi.so.40`; `PMI_*` → MPICH's
 * `libmpi.so.12`), then the others. A library that does not match the launcher would run each process
 * as a lone rank: {@link initMpi} checks the world size against the launcher's and fails with a message.
 *
 * This module is loaded only when distributed training is asked for (dynamic import): nothing else in
 * the project calls `Deno.dlopen`. It needs `--allow-ffi` (and `--allow-env` to read the launcher's
 * variables).
 * @module
 */
import { type LaunchInfo, launchInfo, readEnv } from "./mpi_launch.ts";

export { launchInfo } from "./mpi_launch.ts";
export type { LaunchInfo } from "./mpi_launch.ts";

/** An MPI library could not be found, opened or initialised, or a call failed. */
export class MpiError extends Error {
  override name = "MpiError";
}

/** Which MPI the library is. */
export type MpiFlavor = "openmpi" | "mpich" | "abi";

const OPENMPI_SONAMES = ["libmpi.so.40", "libmpi.so.80", "libmpi.so"];
const MPICH_SONAMES = ["libmpich.so.12", "libmpi.so.12", "libmpich.so"];
const ABI_SONAMES = ["libmpi_abi.so.0", "libmpi_abi.so"];

/**
 * The library names {@link initMpi} tries, in order: the explicit one, `$MASKRCNN_MPI_LIB`, then the
 * sonames of the launcher's implementation first.
 *
 * @example
 * ```ts
 * import { mpiLibraryCandidates } from "./mpi.ts";
 * console.log(mpiLibraryCandidates({ launcher: "mpich", env: () => undefined })[0]); // "libmpich.so.12"
 * ```
 */
export function mpiLibraryCandidates(
  o: {
    library?: string;
    launcher?: LaunchInfo["launcher"] | null;
    env?: (name: string) => string | undefined;
  } = {},
): string[] {
  if (o.library) return [o.library];
  const fromEnv = (o.env ?? readEnv)("MASKRCNN_MPI_LIB");
  if (fromEnv) return [fromEnv];
  const order = o.launcher === "mpich"
    ? [MPICH_SONAMES, ABI_SONAMES, OPENMPI_SONAMES]
    : o.launcher === "openmpi"
    ? [OPENMPI_SONAMES, ABI_SONAMES, MPICH_SONAMES]
    : [ABI_SONAMES, OPENMPI_SONAMES, MPICH_SONAMES];
  return order.flat();
}

const PROBE = {
  MPI_Get_library_version: { parameters: ["buffer", "buffer"], result: "i32" },
  ompi_mpi_comm_world: { type: "pointer", optional: true },
  MPI_Abi_get_version: { parameters: ["buffer", "buffer"], result: "i32", optional: true },
} as const;

function symbolsFor(handle: "pointer" | "i32") {
  const collective = { nonblocking: true } as const;
  return {
    MPI_Initialized: { parameters: ["buffer"], result: "i32" },
    MPI_Finalized: { parameters: ["buffer"], result: "i32" },
    MPI_Init_thread: { parameters: ["pointer", "pointer", "i32", "buffer"], result: "i32" },
    MPI_Comm_rank: { parameters: [handle, "buffer"], result: "i32" },
    MPI_Comm_size: { parameters: [handle, "buffer"], result: "i32" },
    MPI_Allreduce: {
      parameters: ["pointer", "pointer", "i32", handle, handle, handle],
      result: "i32",
      ...collective,
    },
    MPI_Bcast: { parameters: ["pointer", "i32", handle, "i32", handle], result: "i32", ...collective },
    MPI_Barrier: { parameters: [handle], result: "i32", ...collective },
    MPI_Abort: { parameters: [handle, "i32"], result: "i32" },
    MPI_Finalize: { parameters: [], result: "i32" },
    MPI_Error_string: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  } as const;
}

const OPENMPI_HANDLES = {
  comm_world: { name: "ompi_mpi_comm_world", type: "pointer" },
  float: { name: "ompi_mpi_float", type: "pointer" },
  double: { name: "ompi_mpi_double", type: "pointer" },
  sum: { name: "ompi_mpi_op_sum", type: "pointer" },
  max: { name: "ompi_mpi_op_max", type: "pointer" },
} as const;

type Handle = Deno.PointerValue | number;
type Ptr = Deno.PointerValue;

/** The functions used, with their handles typed loosely (pointers for Open MPI / the ABI, ints for MPICH). */
interface MpiSymbols {
  MPI_Initialized(flag: Int32Array): number;
  MPI_Init_thread(argc: Ptr, argv: Ptr, required: number, provided: Int32Array): number;
  MPI_Comm_rank(comm: Handle, out: Int32Array): number;
  MPI_Comm_size(comm: Handle, out: Int32Array): number;
  MPI_Allreduce(send: Ptr, recv: Ptr, count: number, type: Handle, op: Handle, comm: Handle): Promise<number>;
  MPI_Bcast(buf: Ptr, count: number, type: Handle, root: number, comm: Handle): Promise<number>;
  MPI_Barrier(comm: Handle): Promise<number>;
  MPI_Abort(comm: Handle, code: number): number;
  MPI_Finalize(): number;
  MPI_Error_string(code: number, text: Uint8Array, length: Int32Array): number;
}

/** Handles and constants of one flavour. */
interface Constants {
  commWorld: Handle;
  float: Handle;
  double: Handle;
  sum: Handle;
  max: Handle;
  inPlace: Deno.PointerValue;
  threadMultiple: number;
}

const ptr = (n: bigint): Deno.PointerValue => Deno.UnsafePointer.create(n);

/** Element types {@link MpiCommunicator} can reduce. */
export type MpiArray = Float32Array | Float64Array;

/** Options of {@link initMpi}. */
export interface MpiInitOptions {
  /** Library path or soname (`--mpi-lib`); default: `$MASKRCNN_MPI_LIB`, then the usual sonames. */
  library?: string;
  /** The launcher's view (default: {@link launchInfo} of this process's environment). */
  launch?: LaunchInfo | null;
}

/**
 * `MPI_COMM_WORLD` of an initialised MPI library.
 *
 * @example Sum over the ranks (`mpirun -np 2 deno run --allow-ffi --allow-env script.ts`)
 * ```ts
 * import assert from "node:assert";
 * import { initMpi } from "./mpi.ts";
 * import { launchInfo } from "./mpi_launch.ts";
 * const launch = launchInfo(); // null when not started by a launcher: nothing to reduce
 * if (launch !== null) {
 *   const mpi = await initMpi({ launch });
 *   const x = new Float32Array([mpi.rank + 1]);
 *   await mpi.allreduce(x, "sum");
 *   assert.strictEqual(x[0], (mpi.size * (mpi.size + 1)) / 2); // 3 on both ranks of 2
 * }
 * ```
 */
export class MpiCommunicator {
  #queue: Promise<unknown> = Promise.resolve();
  #finalized = false;

  /** @internal use {@link initMpi}. */
  constructor(
    readonly rank: number,
    readonly size: number,
    readonly flavor: MpiFlavor,
    /** The library that was opened. */
    readonly library: string,
    /** `MPI_Get_library_version`'s first line. */
    readonly version: string,
    private readonly lib: { close(): void },
    private readonly sym: MpiSymbols,
    private readonly c: Constants,
  ) {}

  #check(what: string, code: number): void {
    if (code === 0) return;
    const text = new Uint8Array(1024), length = new Int32Array(1);
    let message = `error code ${code}`;
    try {
      if (this.sym.MPI_Error_string(code, text, length) === 0) {
        message = new TextDecoder().decode(text.subarray(0, length[0]));
      }
    } catch { /* keep the code */ }
    throw new MpiError(`${what} failed on rank ${this.rank}: ${message}`);
  }

  /** Runs collectives one at a time, in call order (every rank must issue them in the same order). */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#finalized) return Promise.reject(new MpiError("MPI was finalized"));
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => {});
    return run;
  }

  /**
   * Reduces `data` element-wise over all ranks, in place (`MPI_Allreduce` with `MPI_IN_PLACE`): every
   * rank ends with the sum (or max). `data` must not be touched until the promise settles.
   */
  allreduce(data: MpiArray, op: "sum" | "max" = "sum"): Promise<void> {
    const type = data instanceof Float32Array ? this.c.float : this.c.double;
    const opHandle = op === "sum" ? this.c.sum : this.c.max;
    return this.#serial(async () => {
      // MPI counts are ints: reduce in chunks of at most 2^30 elements.
      const chunk = 1 << 30;
      for (let start = 0; start < data.length; start += chunk) {
        const view = data.subarray(start, Math.min(data.length, start + chunk));
        const code = await this.sym.MPI_Allreduce(
          this.c.inPlace,
          Deno.UnsafePointer.of(view),
          view.length,
          type,
          opHandle,
          this.c.commWorld,
        );
        this.#check("MPI_Allreduce", code);
      }
    });
  }

  /** Copies `data` of rank `root` into `data` of every rank (`MPI_Bcast`). */
  broadcast(data: MpiArray, root = 0): Promise<void> {
    const type = data instanceof Float32Array ? this.c.float : this.c.double;
    return this.#serial(async () => {
      const code = await this.sym.MPI_Bcast(
        Deno.UnsafePointer.of(data),
        data.length,
        type,
        root,
        this.c.commWorld,
      );
      this.#check("MPI_Bcast", code);
    });
  }

  /** Waits until every rank has called it. */
  barrier(): Promise<void> {
    return this.#serial(async () => {
      const code = await this.sym.MPI_Barrier(this.c.commWorld);
      this.#check("MPI_Barrier", code);
    });
  }

  /** Ends every process of the job with `code` (`MPI_Abort`): for an error on one rank. */
  abort(code: number): never {
    this.sym.MPI_Abort(this.c.commWorld, code);
    Deno.exit(code); // MPI_Abort does not return; in case it does
  }

  /** Shuts MPI down (`MPI_Finalize`) after the queued collectives; call once, on every rank. */
  async finalize(): Promise<void> {
    if (this.#finalized) return;
    await this.#queue;
    this.#finalized = true;
    this.#check("MPI_Finalize", this.sym.MPI_Finalize());
    this.lib.close();
  }
}

function cString(bytes: Uint8Array, length: number): string {
  return new TextDecoder().decode(bytes.subarray(0, Math.max(0, length))).replace(/\0.*$/s, "");
}

function openLibrary(candidates: readonly string[]) {
  const ffi = Deno.permissions.querySync?.({ name: "ffi" }).state;
  if (typeof Deno.dlopen !== "function") {
    throw new MpiError("distributed training needs Deno's FFI (Deno.dlopen), which this runtime lacks");
  }
  if (ffi !== "granted") {
    throw new MpiError(
      "distributed training loads the MPI library through Deno's FFI: run deno with --allow-ffi",
    );
  }
  const failures: string[] = [];
  for (const name of candidates) {
    try {
      return { name, probe: Deno.dlopen(name, PROBE) };
    } catch (e) {
      failures.push(`${name}: ${(e as Error).message.split("\n")[0]}`);
    }
  }
  throw new MpiError(
    `no MPI library could be opened (tried ${failures.join("; ")}). Install Open MPI (apt-get install ` +
      "openmpi-bin) or MPICH (mpich), or name the library with --mpi-lib / MASKRCNN_MPI_LIB",
  );
}

/**
 * Opens the MPI library, initialises it (`MPI_Init_thread`, `MPI_THREAD_MULTIPLE` required) and returns
 * `MPI_COMM_WORLD`. Throws {@link MpiError} when no library is found, `--allow-ffi` is missing, the
 * thread level is refused, or the world size disagrees with the launcher's (a library of another MPI).
 *
 * @example
 * ```ts
 * import { initMpi } from "./mpi.ts";
 * // const mpi = await initMpi({ library: "libmpi.so.40" });
 * // console.log(mpi.rank, mpi.size, mpi.flavor);
 * console.log(typeof initMpi);
 * ```
 */
// deno-lint-ignore require-await
export async function initMpi(options: MpiInitOptions = {}): Promise<MpiCommunicator> {
  const launch = options.launch === undefined ? launchInfo() : options.launch;
  const candidates = mpiLibraryCandidates({ library: options.library, launcher: launch?.launcher });
  const { name, probe } = openLibrary(candidates);
  const versionText = new Uint8Array(8192), versionLength = new Int32Array(1);
  probe.symbols.MPI_Get_library_version(versionText, versionLength);
  const version = cString(versionText, versionLength[0]).split("\n")[0].replace(/\s+/g, " ").trim();
  const flavor: MpiFlavor = probe.symbols.ompi_mpi_comm_world !== null
    ? "openmpi"
    : probe.symbols.MPI_Abi_get_version !== null
    ? "abi"
    : "mpich";
  probe.close();
  if (flavor === "mpich" && !/MPICH|MVAPICH|Intel|Cray/i.test(version)) {
    throw new MpiError(`${name}: unrecognised MPI implementation (${version || "no version string"})`);
  }
  let lib: { close(): void; symbols: unknown };
  let c: Constants;
  if (flavor === "openmpi") {
    const l = Deno.dlopen(name, { ...symbolsFor("pointer"), ...OPENMPI_HANDLES });
    const s = l.symbols as unknown as Record<keyof typeof OPENMPI_HANDLES, Deno.PointerValue>;
    c = {
      commWorld: s.comm_world,
      float: s.float,
      double: s.double,
      sum: s.sum,
      max: s.max,
      inPlace: ptr(1n),
      threadMultiple: 3,
    };
    lib = l;
  } else if (flavor === "abi") {
    lib = Deno.dlopen(name, symbolsFor("pointer"));
    c = {
      commWorld: ptr(0x101n),
      float: ptr(0x210n),
      double: ptr(0x214n),
      sum: ptr(0x21n),
      max: ptr(0x23n),
      inPlace: ptr(1n),
      threadMultiple: 7,
    };
  } else {
    lib = Deno.dlopen(name, symbolsFor("i32"));
    c = {
      commWorld: 0x44000000,
      float: 0x4c00040a,
      double: 0x4c00080b,
      sum: 0x58000003,
      max: 0x58000001,
      inPlace: ptr(0xffffffffffffffffn),
      threadMultiple: 3,
    };
  }
  const s = lib.symbols as MpiSymbols;
  const flag = new Int32Array(1);
  s.MPI_Initialized(flag);
  if (flag[0] === 0) {
    const provided = new Int32Array(1);
    const code = s.MPI_Init_thread(null, null, c.threadMultiple, provided);
    if (code !== 0) throw new MpiError(`${name}: MPI_Init_thread failed (error code ${code})`);
    if (provided[0] !== c.threadMultiple) {
      throw new MpiError(
        `${name}: MPI granted thread level ${provided[0]}, not MPI_THREAD_MULTIPLE (Deno calls MPI from ` +
          "several threads); use an MPI built with thread support",
      );
    }
  }
  const out = new Int32Array(1);
  if (s.MPI_Comm_rank(c.commWorld, out) !== 0) throw new MpiError(`${name}: MPI_Comm_rank failed`);
  const rank = out[0];
  if (s.MPI_Comm_size(c.commWorld, out) !== 0) throw new MpiError(`${name}: MPI_Comm_size failed`);
  const size = out[0];
  if (launch && launch.size !== size) {
    throw new MpiError(
      `${name} (${version}) sees ${size} process(es) but the ${launch.launcher} launcher started ` +
        `${launch.size}: the library does not belong to the launcher; pass --mpi-lib (or MASKRCNN_MPI_LIB) ` +
        `with the launcher's libmpi (Open MPI: libmpi.so.40, MPICH: libmpich.so.12)`,
    );
  }
  return new MpiCommunicator(rank, size, flavor, name, version, lib, s, c);
}
