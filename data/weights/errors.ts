/**
 * Typed errors of the weight-file readers: every message names the file (a path, URL or `<bytes>`) and,
 * where one is at fault, the tensor or entry. Both extend model/'s `WeightsError`, so one `catch` sees
 * every weight-loading problem, from a corrupt file to a state_dict that does not fit the config.
 * @module
 */
import { WeightsError } from "../../model/weights_errors.ts";

/**
 * The bytes are not a valid weight file of a supported format, or are truncated or corrupt.
 *
 * @example
 * ```ts
 * import { WeightsFormatError } from "./errors.ts";
 * console.log(new WeightsFormatError("x.bin", "not safetensors or a torch zip").message);
 * ```
 */
export class WeightsFormatError extends WeightsError {}

/**
 * A pickle references a Python global outside the allow-list (e.g. `os.system`). Loading stops at the
 * reference: nothing is ever called or imported.
 *
 * @example
 * ```ts
 * import { ForbiddenGlobalError } from "./errors.ts";
 * const e = new ForbiddenGlobalError("evil.pth", "os.system");
 * console.log(e.global, e.message.includes("os.system"));
 * ```
 */
export class ForbiddenGlobalError extends WeightsError {
  /** The rejected global as `module.name`. */
  readonly global: string;
  /** Creates the error for the rejected global `module.name`. */
  constructor(file: string, global: string) {
    super(
      file,
      `pickle references the global ${global}, which is not on the allow-list of tensor-rebuilding ` +
        "functions; refusing to load it (a checkpoint must not be able to run code)",
    );
    this.global = global;
  }
}
