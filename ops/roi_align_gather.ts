/**
 * The deterministic RoIAlign backward (the default path of `roi_align_backward.ts`): a gather in which
 * each element of a gradient map is summed by one invocation in a fixed order, so repeated runs agree bit
 * for bit whatever the adapter's scheduling (the float-atomic scatter does not). See
 * `shaders/roi_align_gather.wgsl.ts` for the two passes.
 *
 * Dispatches per call: one zero fill of the tile bitmasks, one marking pass over the RoI rows (bounded by
 * `geometry.occupied` like the other RoI ops: only the rows in use are marked, so stale rows never reach
 * the gradient), and one gather per level (every element of the map is written, so the maps need no zero
 * fill). Memory: ceil(R / 32) + ceil(R / 1024) u32 per 4×4 tile (`ROI_TILE`) of every level and image.
 * @module
 */
import { ROI_WORKGROUP } from "../shaders/roi_align_common.wgsl.ts";
import {
  gatherUnits,
  ROI_TILE,
  roiAlignGatherWgsl,
  roiAlignMarkWgsl,
} from "../shaders/roi_align_gather.wgsl.ts";
import { fillInPlace } from "./elementwise.ts";
import { LimitError } from "./errors.ts";
import { dispatch, params } from "./kernel.ts";
import { occupiedRowWords, type ParamWord, type RoiAlignGeometry, roiAlignParamWords } from "./roi_align.ts";
import { emptyTensor, type Tensor } from "./tensor.ts";

/** How the gather treats the gradient maps it is given. */
export interface RoiAlignGatherOptions {
  /** Per map: add the gradient to its contents (else overwrite every element). */
  accumulate: readonly boolean[];
}

/**
 * Writes (or adds) the RoIAlign gradient of `gradOut` into 1–4 gradient maps, deterministically.
 * gradOut: [R, outH, outW, C] f32, rois: [R, 5] f32 (batchIndex, x1, y1, x2, y2), grads: per level
 * [N, Hl, Wl, C] f32 (checked by the caller). RoIs map to `geometry.mapper`'s level (else level 0).
 *
 * @example
 * ```ts
 * import { getGpu, tensorFromArray } from "./mod.ts";
 * import { emptyTensor } from "./tensor.ts";
 * import { roiAlignGatherBackward } from "./roi_align_gather.ts";
 * await getGpu();
 * const g = tensorFromArray(new Float32Array(2 * 2 * 4).fill(1), [1, 2, 2, 4]);
 * const rois = tensorFromArray(new Float32Array([0, 0, 0, 2, 1]), [1, 5]);
 * const grad = emptyTensor([1, 2, 3, 4], "f32");
 * roiAlignGatherBackward("example", g, rois, [grad], {
 *   outputSize: [2, 2], scales: [1], samplingRatio: 2, aligned: false,
 * }, { accumulate: [false] });
 * console.log((await grad.read()).length); // 24
 * ```
 */
export function roiAlignGatherBackward(
  op: string,
  gradOut: Tensor,
  rois: Tensor,
  grads: readonly Tensor[],
  geometry: RoiAlignGeometry,
  options: RoiAlignGatherOptions,
): void {
  const [r, , , c] = gradOut.shape;
  const n = grads[0].shape[0];
  const vec4 = c % 4 === 0;
  const cv = vec4 ? c / 4 : c;
  const words = Math.max(1, Math.ceil(r / 32));
  const summaries = Math.ceil(words / 32);
  const record = summaries + words;
  const tilesY = grads.map((g) => Math.ceil(g.shape[1] / ROI_TILE));
  const tilesX = grads.map((g) => Math.ceil(g.shape[2] / ROI_TILE));
  const maskBase: number[] = [];
  let maskWords = 0;
  grads.forEach((_, l) => {
    maskBase.push(maskWords);
    maskWords += n * tilesY[l] * tilesX[l] * record;
  });
  if (maskWords > 0xffffffff / 4) throw new LimitError(op, `${maskWords} words of RoI tile masks`);
  const occupied = geometry.occupied;
  const counts = occupied?.counts ?? emptyTensor([1], "u32");
  const perLevel = (values: number[]) =>
    [0, 1, 2, 3].map((l) => ["u32", values[Math.min(l, values.length - 1)]] as const);
  const words32 = (total: number, level: number, accumulate: boolean): ParamWord[] => [
    ...roiAlignParamWords(geometry, { rois: r, cv, batch: n, total, maps: grads.map((g) => g.shape) }),
    ...perLevel(maskBase),
    ...perLevel(tilesX),
    ...perLevel(tilesY),
    ["u32", words],
    ["u32", summaries],
    ["u32", level],
    ["u32", accumulate ? 1 : 0],
    ...occupiedRowWords(occupied, r),
  ];
  const variant = { vec4, levels: grads.length, mapLevels: geometry.mapper !== undefined };
  const name = `${vec4 ? "vec4" : "f32"}/L${variant.levels}/${variant.mapLevels ? "map" : "one"}`;
  if (r === 0) {
    grads.forEach((g, l) => options.accumulate[l] || fillInPlace(g, 0));
    return;
  }
  const mask = fillInPlace(emptyTensor([maskWords], "u32"), 0);
  dispatch({ key: `roi_align_gather/mark/${name}`, source: roiAlignMarkWgsl(variant) }, {
    op,
    tensors: [["rois", rois], ["counts", counts], ["tile masks", mask]],
    params: params(...words32(r, 0, false)),
    workgroups: Math.ceil(r / ROI_WORKGROUP),
    bound: occupied && { ...occupied, unitsPerRow: 1, unitsPerWorkgroup: ROI_WORKGROUP },
  });
  const units = gatherUnits(vec4, cv);
  const gather = {
    key: `roi_align_gather/gather/${name}/u${units}`,
    source: roiAlignGatherWgsl(variant, units),
  };
  grads.forEach((grad, l) => {
    const total = grad.shape[0] * grad.shape[1] * grad.shape[2] * (cv / units);
    if (total > 0xffffffff - ROI_WORKGROUP) {
      throw new LimitError(op, `gradient ${grad.describe()} has too many elements for one dispatch`);
    }
    dispatch(gather, {
      op,
      tensors: [["rois", rois], ["gradOut", gradOut], ["tile masks", mask], [`grad[${l}]`, grad]],
      params: params(...words32(total, l, options.accumulate[l])),
      workgroups: Math.ceil(total / ROI_WORKGROUP),
    });
  });
}
