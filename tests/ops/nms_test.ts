import assert from "node:assert/strict";
import {
  DTypeError,
  getGpu,
  LimitError,
  readTensors,
  ShapeError,
  type Tensor,
  tensorFromArray,
} from "../../ops/mod.ts";
import { batchedNms, nms } from "../../ops/nms.ts";
import { loadFixture } from "../_fixtures.ts";

await getGpu();
const single = loadFixture("ops/nms.json");
const batched = loadFixture("ops/nms_batched.json");

function upload(fx: typeof single, name: string): Tensor {
  const t = fx.tensors[name];
  const data = t.dtype === "u8" ? Uint32Array.from(t.data) : t.data as Float32Array | Int32Array;
  return tensorFromArray(data, t.shape);
}

/** Reads keep, count and scores; checks the padding and that scores are those of the kept boxes. */
async function readKeep(
  result: { keep: Tensor; count: Tensor; scores: Tensor },
  scores: ArrayLike<number>,
): Promise<{ keep: number[]; counts: number[] }> {
  const [keep, count, kept] = await readTensors([result.keep, result.count, result.scores]);
  const rows = count.length;
  const cap = keep.length / rows;
  for (let b = 0; b < rows; b++) {
    for (let i = 0; i < cap; i++) {
      const k = keep[b * cap + i];
      if (i < count[b]) assert.equal(kept[b * cap + i], scores[k], "score of a kept box");
      else assert.equal(k, -1, "padding after the count");
    }
  }
  return { keep: [...keep], counts: [...count] };
}

for (const n of single.meta.sizes as number[]) {
  for (const thr of single.meta.thresholds as number[]) {
    Deno.test(`nms of ${n} clustered boxes at IoU ${thr} equals torchvision.ops.nms`, async () => {
      const scores = single.tensors[`scores_${n}`].data as Float32Array;
      const out = nms(upload(single, `boxes_${n}`), upload(single, `scores_${n}`), thr);
      assert.deepEqual(out.keep.shape, [n]);
      const { keep, counts } = await readKeep(out, scores);
      const expected = [...single.tensors[`keep_${n}_${thr * 10}`].data];
      assert.deepEqual(counts, [expected.length]);
      assert.deepEqual(keep.slice(0, expected.length), expected);
    });
  }
}

Deno.test("nms with a validity mask and maxOut keeps torchvision's first maxOut of the valid boxes", async () => {
  const out = nms(upload(single, "boxes_1000"), upload(single, "scores_1000"), 0.5, {
    valid: upload(single, "valid_1000"),
    maxOut: 50,
  });
  assert.deepEqual(out.keep.shape, [50]);
  const { keep, counts } = await readKeep(out, single.tensors.scores_1000.data);
  const expected = [...single.tensors.keep_1000_valid_5_max50.data];
  assert.deepEqual(counts, [expected.length]);
  assert.deepEqual(keep.slice(0, expected.length), expected);
});

for (const c of batched.meta.cases as { name: string; classes: number; threshold: number }[]) {
  Deno.test(`batchedNms of ${c.name.replace("_", " boxes, ")} classes equals torchvision.ops.batched_nms`, async () => {
    const scores = batched.tensors[`scores_${c.name}`].data;
    const out = batchedNms(
      upload(batched, `boxes_${c.name}`),
      upload(batched, `scores_${c.name}`),
      upload(batched, `idxs_${c.name}`),
      c.threshold,
      c.classes,
    );
    const { keep, counts } = await readKeep(out, scores);
    const expected = [...batched.tensors[`keep_${c.name}`].data];
    assert.deepEqual(counts, [expected.length]);
    assert.deepEqual(keep.slice(0, expected.length), expected);
  });
}

Deno.test("batchedNms with many empty classes and out-of-range labels gives torchvision's keep", async () => {
  const name = "1000_3";
  const labels = Int32Array.from(batched.tensors[`idxs_${name}`].data, (l) => l * 20); // classes 0, 20, 40
  const expected = [...batched.tensors[`keep_${name}`].data];
  // A suppressed box suppresses nothing, so dropping one (label out of range) must not change the keep list.
  const dropped = labels.findIndex((_, i) => !expected.includes(i));
  labels[dropped] = -1;
  const out = batchedNms(
    upload(batched, `boxes_${name}`),
    upload(batched, `scores_${name}`),
    tensorFromArray(labels, [labels.length]),
    0.5,
    41,
  );
  const { keep, counts } = await readKeep(out, batched.tensors[`scores_${name}`].data);
  assert.equal(counts[0], expected.length);
  assert.deepEqual(keep.slice(0, counts[0]), expected);
});

Deno.test("batchedNms per image in box-head layout (valid mask, maxOut, maxPerSegment) equals torchvision", async () => {
  const m = batched.meta;
  const classes = m.head_classes as number;
  const lengths = (m.head_proposals as number[]).map((p) => p * classes);
  const total = lengths[0] + lengths[1];
  const labels = new Int32Array(total);
  for (let i = 0; i < total; i++) labels[i] = (i < lengths[0] ? i : i - lengths[0]) % classes;
  const out = batchedNms(
    upload(batched, "head_boxes"),
    upload(batched, "head_scores"),
    tensorFromArray(labels, [total]),
    m.head_threshold as number,
    classes,
    {
      valid: upload(batched, "head_valid"),
      maxOut: m.head_max_out as number,
      imageLengths: lengths,
      maxPerSegment: Math.max(...(m.head_proposals as number[])),
    },
  );
  assert.deepEqual(out.keep.shape, [2, m.head_max_out]);
  const { keep, counts } = await readKeep(out, batched.tensors.head_scores.data);
  assert.deepEqual(counts, [...batched.tensors.head_counts.data]);
  assert.deepEqual(keep, [...batched.tensors.head_keep.data]);
});

Deno.test("nms and batchedNms reject bad shapes and dtypes naming the op and the shapes", () => {
  const boxes = tensorFromArray(new Float32Array(12), [3, 4]);
  const scores = tensorFromArray(new Float32Array(3), [3]);
  const isShape = (re: RegExp) => (e: Error) => e instanceof ShapeError && re.test(e.message);
  assert.throws(
    () => nms(boxes.reshape([4, 3]), scores, 0.5),
    isShape(/nms: boxes must be \[R, 4\].*\[4,3\]/),
  );
  assert.throws(() => nms(boxes.reshape([12]), scores, 0.5), isShape(/nms: boxes must be \[R, 4\].*\[12\]/));
  const short = tensorFromArray(new Float32Array(2), [2]);
  assert.throws(
    () => nms(boxes, short, 0.5),
    isShape(/nms: scores \[2\] f32 must be \[3\] for boxes \[3,4\]/),
  );
  const idxs = tensorFromArray(new Int32Array(2), [2]);
  assert.throws(
    () => batchedNms(boxes, scores, idxs, 0.5, 2),
    isShape(/batchedNms: idxs \[2\] i32 must be \[3\] for boxes \[3,4\]/),
  );
  const fIdxs = tensorFromArray(new Float32Array(3), [3]);
  assert.throws(() => batchedNms(boxes, scores, fIdxs, 0.5, 2), (e: Error) => e instanceof DTypeError);
  assert.throws(
    () => nms(boxes, scores, 0.5, { imageLengths: [1, 1] }),
    isShape(/nms: imageLengths \[1,1\]/),
  );
  const many = tensorFromArray(new Float32Array(20000 * 4), [20000, 4]);
  const manyScores = tensorFromArray(new Float32Array(20000), [20000]);
  assert.throws(
    () => nms(many, manyScores, 0.5),
    (e: Error) => e instanceof LimitError && /nms: 20000 boxes/.test(e.message),
  );
});
