/**
 * COCO evaluation, results and RLE/polygon code throw `DataError` (with a reason and the message naming the
 * function and argument at fault), like the datasets do — never a plain `Error`.
 */
import assert from "node:assert";
import { DataError, type DataErrorReason } from "../../data/errors.ts";
import { rleDecode, rleEncode, rleMerge, rleToRuns } from "../../data/rle.ts";
import { rleCountsFromString } from "../../data/rle_string.ts";
import { polygonsToRle } from "../../data/polygon.ts";
import { evaluateCoco, formatCocoSummary } from "../../data/coco_eval.ts";
import { readCocoResults } from "../../data/coco_results.ts";
import { bboxIou } from "../../data/rle_iou.ts";

function expectDataError(fn: () => unknown, reason: DataErrorReason, message: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof DataError, `expected a DataError, got ${caught}`);
  assert.strictEqual(caught.reason, reason);
  assert.strictEqual(caught.file, "", "in-memory data has no file");
  assert.match(caught.message, message);
}

Deno.test("RLE decoding and merging throw DataError bad-rle naming the argument", () => {
  expectDataError(() => rleToRuns(null as never, "gt[2]"), "bad-rle", /^gt\[2\] is not an RLE object$/);
  expectDataError(
    () => rleDecode({ size: [2, 2], counts: [3, 4] }),
    "bad-rle",
    /^rleDecode: rle\.counts add up to more than height×width = 4 pixels$/,
  );
  expectDataError(() => rleCountsFromString("0~", "seg.counts"), "bad-rle", /^seg\.counts: character "~"/);
  const a = rleEncode(new Uint8Array(4), 2, 2);
  const b = rleEncode(new Uint8Array(6), 2, 3);
  expectDataError(() => rleMerge([a, b]), "bad-rle", /^rleMerge: rles\[1\] is 2×3 but rles\[0\] is 2×2$/);
  expectDataError(() => rleEncode(new Uint8Array(3), 2, 2), "bad-rle", /^rleEncode: mask has 3 elements/);
});

Deno.test("polygon rasterisation throws DataError bad-polygon", () => {
  expectDataError(() => polygonsToRle([[1, 2, 3]], 4, 4), "bad-polygon", /even number .* got 3/);
  expectDataError(() => polygonsToRle([[0, 0, NaN, 1]], 4, 4), "bad-polygon", /must be a finite number/);
});

Deno.test("COCO results and evaluation inputs throw DataError", () => {
  expectDataError(() => readCocoResults("{"), "bad-results", /^readCocoResults: not valid JSON/);
  expectDataError(
    () => readCocoResults('[{"image_id": 1, "category_id": 1, "score": 0.5}]'),
    "bad-results",
    /results\[0\] has neither a bbox nor a segmentation$/,
  );
  const gt = { images: [], annotations: [], categories: [] };
  expectDataError(
    () => evaluateCoco(gt, [], { iouType: "keypoints" as never }),
    "bad-eval-input",
    /^evaluateCoco: options\.iouType must be "bbox" or "segm"/,
  );
  expectDataError(
    () => evaluateCoco(null as never, [], { iouType: "bbox" }),
    "bad-eval-input",
    /groundTruth/,
  );
  expectDataError(() => formatCocoSummary([1, 2], "bbox"), "bad-argument", /12 COCO numbers, got 2$/);
  expectDataError(
    () => bboxIou([[0, 0, 1]], [[0, 0, 1, 1]]),
    "bad-eval-input",
    /must be an \[x, y, w, h\] box/,
  );
});
