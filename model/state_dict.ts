/**
 * The in-memory record of model weights that model/ takes and gives: a {@link StateDict} of named
 * {@link WeightTensor}s (row-major f32 values and a shape). The readers and writers of weight files
 * (safetensors, torch `.pth`) live in `data/weights/`; they produce and consume these records.
 * @module
 */

/** Element types found in safetensors and torch checkpoints (safetensors spelling). */
export type WeightDType = "F64" | "F32" | "F16" | "BF16" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

/** One tensor: row-major (contiguous) f32 values and the shape; `dtype` is the file's element type. */
export interface WeightTensor {
  shape: number[];
  data: Float32Array;
  /** The element type in the file (the data is always f32); absent for tensors made in memory. */
  dtype?: WeightDType;
}

/** Named tensors; model/ keys them by canonical torchvision 0.14 name (see `canonicalStateDict`). */
export type StateDict = Map<string, WeightTensor>;
