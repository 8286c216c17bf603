/**
 * Shared by the GEMM backward tests: run a test under both adapters' tiles and both weight-gradient paths.
 * @module
 */
import { FORWARD_KERNEL, GEMM_TILES, SUBGROUP_GEMM } from "../../ops/conv2d.ts";
import { WGRAD_SPLIT, WGRAD_SUBGROUP, WGRAD_TILES } from "../../ops/gemm_backward.ts";

/** A run configuration: adapter tiles and weight-gradient split forced to one path. */
export interface Variant {
  tile: "software" | "hardware";
  split: "split" | "direct";
}

/** Runs `fn` with the tiles of `v.tile` and the split policy forced to `v.split`. */
export async function withVariant(v: Variant, fn: () => Promise<void>): Promise<void> {
  const saved = {
    gemm: { ...GEMM_TILES },
    kernel: { ...FORWARD_KERNEL },
    wgrad: { ...WGRAD_TILES },
    split: { ...WGRAD_SPLIT },
    subgroup: { ...SUBGROUP_GEMM },
    wgradSubgroup: { ...WGRAD_SUBGROUP },
  };
  // the software variant runs the subgroup broadcast where the device has it (lavapipe)
  SUBGROUP_GEMM.software = SUBGROUP_GEMM.hardware = v.tile === "software";
  SUBGROUP_GEMM.minK = 0;
  Object.assign(WGRAD_SUBGROUP, { minRows: 0, maxNarrowCols4: Infinity }); // every shape
  GEMM_TILES.software = GEMM_TILES.hardware = saved.gemm[v.tile];
  FORWARD_KERNEL.software = FORWARD_KERNEL.hardware = saved.kernel[v.tile];
  WGRAD_TILES.software = WGRAD_TILES.hardware = saved.wgrad[v.tile];
  const many = v.split === "split";
  WGRAD_SPLIT.targetWorkgroups = WGRAD_SPLIT.softwareTarget = many ? 1 << 20 : 1;
  WGRAD_SPLIT.minChunk = many ? 13 : 1 << 30;
  try {
    await fn();
  } finally {
    Object.assign(GEMM_TILES, saved.gemm);
    Object.assign(FORWARD_KERNEL, saved.kernel);
    Object.assign(WGRAD_TILES, saved.wgrad);
    Object.assign(WGRAD_SPLIT, saved.split);
    Object.assign(SUBGROUP_GEMM, saved.subgroup);
    Object.assign(WGRAD_SUBGROUP, saved.wgradSubgroup);
  }
}

/** The variants every parity case runs under. */
export const VARIANTS: Variant[] = [{ tile: "software", split: "split" }, {
  tile: "hardware",
  split: "direct",
}];
