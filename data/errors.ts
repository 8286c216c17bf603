/**
 * Typed data errors: every problem with input data names the file and the record or annotation at fault.
 * @module
 */

/** What went wrong with a piece of input data. */
export type DataErrorReason =
  | "missing-file"
  | "unsafe-path"
  | "corrupt-image"
  | "image-too-large"
  | "image-size-mismatch"
  | "malformed-json"
  | "invalid-annotation-file"
  | "unknown-image"
  | "unknown-category"
  | "bad-polygon"
  | "bad-segmentation"
  | "zero-area-box"
  | "bad-crc"
  | "truncated-record"
  | "bad-example"
  | "bad-mask"
  | "no-files"
  | "bad-rle"
  | "bad-results"
  | "bad-eval-input"
  | "bad-argument";

/** Where a `DataError` happened. */
export interface DataErrorLocation {
  /**
   * The file at fault (annotation file, image file or TFRecord); `""` for data passed in memory (RLEs,
   * polygons, detection results), whose message then starts with the function at fault instead.
   */
  file: string;
  /** Index of the record in a TFRecord file (0-based). */
  recordIndex?: number;
  /** COCO annotation id. */
  annotationId?: number;
  /** COCO image id. */
  imageId?: number;
  /** Index of an instance inside a record or image (0-based). */
  instanceIndex?: number;
}

/**
 * An error in the input data, with the file and the record/annotation at fault as fields.
 * @example
 * ```ts
 * const err = new DataError("bad-polygon", "polygon with fewer than 3 points", {
 *   file: "instances_val.json",
 *   annotationId: 42,
 * });
 * err.message; // "instances_val.json: annotation 42: polygon with fewer than 3 points"
 * ```
 */
export class DataError extends Error {
  /** Machine-readable reason. */
  readonly reason: DataErrorReason;
  /** The file at fault. */
  readonly file: string;
  /** Record index in a TFRecord file, if any. */
  readonly recordIndex?: number;
  /** COCO annotation id, if any. */
  readonly annotationId?: number;
  /** COCO image id, if any. */
  readonly imageId?: number;
  /** Instance index inside a record/image, if any. */
  readonly instanceIndex?: number;

  constructor(reason: DataErrorReason, detail: string, where: DataErrorLocation, options?: ErrorOptions) {
    super(formatDataErrorMessage(detail, where), options);
    this.name = "DataError";
    this.reason = reason;
    this.file = where.file;
    this.recordIndex = where.recordIndex;
    this.annotationId = where.annotationId;
    this.imageId = where.imageId;
    this.instanceIndex = where.instanceIndex;
  }
}

/**
 * Builds the message of a `DataError`: `file: record 3: image 7: annotation 42: detail`.
 * @example
 * ```ts
 * formatDataErrorMessage("bad CRC", { file: "a.tfrecord", recordIndex: 3 }); // "a.tfrecord: record 3: bad CRC"
 * ```
 */
export function formatDataErrorMessage(detail: string, where: DataErrorLocation): string {
  const parts = where.file === "" ? [] : [where.file];
  if (where.recordIndex !== undefined) parts.push(`record ${where.recordIndex}`);
  if (where.imageId !== undefined) parts.push(`image ${where.imageId}`);
  if (where.annotationId !== undefined) parts.push(`annotation ${where.annotationId}`);
  if (where.instanceIndex !== undefined) parts.push(`instance ${where.instanceIndex}`);
  parts.push(detail);
  return parts.join(": ");
}

/** How a reader reacts to bad data: skip (and count) the item, or stop with the error. */
export type OnDataError = "skip" | "throw";

/**
 * Counts of problems by reason, with the first few errors kept as examples.
 * @example
 * ```ts
 * const tally = new DataErrorTally();
 * tally.add(new DataError("missing-file", "no such file", { file: "a.jpg" }));
 * tally.summary(); // { total: 1, reasons: { "missing-file": 1 }, examples: ["a.jpg: no such file"] }
 * ```
 */
export class DataErrorTally {
  #reasons = new Map<DataErrorReason, number>();
  #examples: string[] = [];
  #total = 0;
  /** How many example messages are kept. */
  readonly maxExamples: number;

  constructor(maxExamples = 10) {
    this.maxExamples = maxExamples;
  }

  /** Records one error. */
  add(error: DataError): void {
    this.#total++;
    this.#reasons.set(error.reason, (this.#reasons.get(error.reason) ?? 0) + 1);
    if (this.#examples.length < this.maxExamples) this.#examples.push(error.message);
  }

  /** Number of errors recorded. */
  get total(): number {
    return this.#total;
  }

  /** A plain summary: total, count per reason and example messages. */
  summary(): DataErrorSummary {
    return { total: this.#total, reasons: Object.fromEntries(this.#reasons), examples: [...this.#examples] };
  }
}

/** Plain summary of a `DataErrorTally`. */
export interface DataErrorSummary {
  /** Number of errors. */
  total: number;
  /** Count per reason. */
  reasons: Partial<Record<DataErrorReason, number>>;
  /** The first error messages. */
  examples: string[];
}
