/**
 * Models with deterministic weights for the benchmarks (speed does not depend on the weights' values; the
 * rule is the one of tests/_det_weights.ts, shared with the R50 feature parity test).
 * @module
 */
import { resolveConfig, type ResolveConfigOptions } from "../../model/config.ts";
import type { MaskRcnnModel } from "../../model/mask_rcnn.ts";
import { uploadParams } from "../../model/params.ts";
import { expectedStateDict } from "../../model/state_dict_names.ts";
import { deterministicTensor } from "../../tests/_det_weights.ts";

/** A model of the given config whose every tensor comes from its name (no file needed). */
export function deterministicModel(options: ResolveConfigOptions): MaskRcnnModel {
  const config = resolveConfig(options);
  const stateDict = new Map(
    expectedStateDict(config).map((
      { name, shape },
    ) => [name, { shape: [...shape], data: deterministicTensor(name, shape) }]),
  );
  return {
    config,
    stateDict,
    params: uploadParams(config, stateDict),
    anchorCache: new Map(),
    batchNormEps: 1e-5,
  };
}
