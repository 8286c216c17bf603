/**
 * Typed errors of weights in memory: the base {@link WeightsError} (also of the file readers' errors in
 * `data/weights/errors.ts`), a state_dict that does not match the config, predictor tensors that are not
 * predictor tensors, a model used before it has weights. Every message names the weights (a path, URL,
 * `<bytes>` or `<state_dict>`) and, where one is at fault, the tensor.
 * @module
 */

/**
 * Base class of every weight-loading error (file formats and state_dict checks alike).
 *
 * @example
 * ```ts
 * import { WeightsError } from "./weights_errors.ts";
 * console.log(new WeightsError("model.pth", "boom").message); // model.pth: boom
 * ```
 */
export class WeightsError extends Error {
  /** The file (path, URL or `<bytes>`) at fault. */
  readonly file: string;
  /** What is wrong, without the file name. */
  readonly detail: string;
  /** Creates the error; the message is `"<file>: <detail>"`. */
  constructor(file: string, detail: string, options?: ErrorOptions) {
    super(`${file}: ${detail}`, options);
    this.name = new.target.name;
    this.file = file;
    this.detail = detail;
  }
}

/** One tensor whose shape differs from the config's. */
export interface ShapeMismatch {
  name: string;
  expected: number[];
  actual: number[];
}

/**
 * The state_dict does not match the config: lists every missing, unexpected and wrongly shaped tensor.
 *
 * @example
 * ```ts
 * import { StateDictMismatchError } from "./weights_errors.ts";
 * const e = new StateDictMismatchError("w.pth", ["rpn.head.conv.0.0.bias"], [], []);
 * console.log(e.missing); // ["rpn.head.conv.0.0.bias"]
 * ```
 */
export class StateDictMismatchError extends WeightsError {
  /** Expected but absent tensors (canonical names). */
  readonly missing: string[];
  /** Present but not expected tensors. */
  readonly unexpected: string[];
  /** Tensors with a shape other than the expected one. */
  readonly wrongShape: ShapeMismatch[];
  /** Creates the error listing every problem by name. */
  constructor(file: string, missing: string[], unexpected: string[], wrongShape: ShapeMismatch[]) {
    const parts: string[] = [];
    const list = (names: string[]) => names.map((n) => `\n  ${n}`).join("");
    if (missing.length) parts.push(`${missing.length} missing:${list(missing)}`);
    if (unexpected.length) parts.push(`${unexpected.length} unexpected:${list(unexpected)}`);
    if (wrongShape.length) {
      const lines = wrongShape.map((s) => `${s.name} is [${s.actual}], expected [${s.expected}]`);
      parts.push(`${wrongShape.length} with the wrong shape:${list(lines)}`);
    }
    super(file, `state_dict does not match the config: ${parts.join("\n")}`);
    this.missing = missing;
    this.unexpected = unexpected;
    this.wrongShape = wrongShape;
  }
}

/**
 * `initialPredictor` (fine-tuning) holds tensors that are not predictor tensors (e.g. a whole
 * `initialStateDict`), which would silently replace loaded backbone or head weights.
 *
 * @example
 * ```ts
 * import { PredictorTensorsError } from "./weights_errors.ts";
 * const e = new PredictorTensorsError("w.pth", ["backbone.body.conv1.weight"]);
 * console.log(e.notPredictor); // ["backbone.body.conv1.weight"]
 * ```
 */
export class PredictorTensorsError extends WeightsError {
  /** The tensors of `initialPredictor` that are not predictor tensors. */
  readonly notPredictor: string[];
  /** Creates the error naming the offending tensors (the first five, and how many in all). */
  constructor(file: string, notPredictor: string[]) {
    const shown = notPredictor.slice(0, 5).join(", ") + (notPredictor.length > 5 ? ", …" : "");
    super(
      file,
      `initialPredictor may hold only roi_heads.box_predictor.* and roi_heads.mask_predictor.mask_fcn_logits.* ` +
        `tensors, but has ${notPredictor.length} others (${shown}); filter it with isPredictorName`,
    );
    this.notPredictor = notPredictor;
  }
}

/**
 * A model was used before it had weights: `detect`, `trainStep`, `saveWeights`, `trainableParameters` and
 * `syncStateDict` need `loadWeights` / `setStateDict` (or `initWeights`) first. The message names the
 * function.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { buildModel } from "./mask_rcnn.ts";
 * import { trainableParameters } from "./optimizer.ts";
 * import { NoWeightsError } from "./weights_errors.ts";
 * const model = await buildModel({ preset: "small" });
 * assert.throws(() => trainableParameters(model), NoWeightsError);
 * ```
 */
export class NoWeightsError extends Error {
  /** Creates the error; `message` names the function and how to give the model weights. */
  constructor(message: string) {
    super(message);
    this.name = "NoWeightsError";
  }
}
