/**
 * Parity of the COCO mask encodings with real pycocotools: every expected value comes from
 * tests/fixtures/coco/rle.json, written by tools/reference/make_coco_fixtures.py. RLE strings, areas and
 * boxes must match exactly; IoUs within 1e-9.
 * @module
 */
import assert from "node:assert/strict";
import {
  type CompressedRle,
  rleArea,
  rleDecode,
  rleEncode,
  rleMerge,
  rleToBbox,
  rleToRuns,
} from "../../data/rle.ts";
import { bboxIou, rleIou } from "../../data/rle_iou.ts";
import { polygonsToRle, segmentationToRle } from "../../data/polygon.ts";
import { rleCountsFromString, rleCountsToString } from "../../data/rle_string.ts";

const FIXTURE = new URL("../fixtures/coco/rle.json", import.meta.url);

interface MaskCase {
  height: number;
  width: number;
  bits: string;
  uncompressed: number[];
  rle: CompressedRle;
  area: number;
  bbox: number[];
  from_uncompressed: CompressedRle;
}
interface IouCase {
  dets: number[];
  gts: number[];
  iscrowd: number[];
  iou: number[][];
}
interface Fixture {
  masks: MaskCase[];
  merges: { indices: number[]; union: CompressedRle; intersect: CompressedRle }[];
  ious: IouCase[];
  box_ious: { dets: number[][]; gts: number[][]; iscrowd: number[]; iou: number[][] }[];
  polygons: {
    height: number;
    width: number;
    polygons: number[][];
    rles: CompressedRle[];
    merged: CompressedRle;
    area: number;
  }[];
  boxes: { height: number; width: number; boxes: number[][]; rles: CompressedRle[] }[];
  long_counts: {
    size: [number, number];
    counts: number[];
    rle: CompressedRle;
    area: number;
    bbox: number[];
  }[];
}

const fixture: Fixture = JSON.parse(await Deno.readTextFile(FIXTURE));

function bitsToMask(bits: string): Uint8Array {
  const mask = new Uint8Array(bits.length);
  for (let i = 0; i < bits.length; i++) mask[i] = bits.charCodeAt(i) - 48;
  return mask;
}

function maxAbsDiff(a: number[][], b: number[][]): number {
  assert.equal(a.length, b.length, "row count");
  let worst = 0;
  a.forEach((row, i) => {
    assert.equal(row.length, b[i].length, `row ${i} length`);
    row.forEach((v, j) => worst = Math.max(worst, Math.abs(v - b[i][j])));
  });
  return worst;
}

Deno.test("fixture is substantial and not degenerate", () => {
  assert.ok(fixture.masks.length >= 40 && fixture.polygons.length >= 50 && fixture.ious.length >= 3);
  const areas = fixture.masks.map((m) => m.area);
  assert.ok(areas.filter((a) => a > 0).length > 30, "most fixture masks have foreground");
  assert.ok(fixture.long_counts.some((c) => c.rle.counts.length > 20));
});

Deno.test("rleEncode matches pycocotools encode strings exactly", () => {
  for (const [i, m] of fixture.masks.entries()) {
    assert.deepEqual(rleEncode(bitsToMask(m.bits), m.height, m.width), m.rle, `mask ${i}`);
  }
});

Deno.test("rleDecode inverts pycocotools strings and uncompressed counts", () => {
  for (const [i, m] of fixture.masks.entries()) {
    const expected = bitsToMask(m.bits);
    assert.deepEqual(rleDecode(m.rle), expected, `mask ${i} (string)`);
    assert.deepEqual(
      rleDecode({ size: [m.height, m.width], counts: m.uncompressed }),
      expected,
      `mask ${i} (list)`,
    );
  }
});

Deno.test("rleArea and rleToBbox match pycocotools for both count forms", () => {
  for (const [i, m] of fixture.masks.entries()) {
    const list = { size: [m.height, m.width] as [number, number], counts: m.uncompressed };
    assert.equal(rleArea(m.rle), m.area, `area ${i}`);
    assert.equal(rleArea(list), m.area, `area ${i} (list)`);
    assert.deepEqual(rleToBbox(m.rle), m.bbox, `bbox ${i}`);
    assert.deepEqual(rleToBbox(list), m.bbox, `bbox ${i} (list)`);
  }
});

Deno.test("uncompressed counts convert to pycocotools' compressed strings", () => {
  for (const [i, m] of fixture.masks.entries()) {
    const list = { size: [m.height, m.width] as [number, number], counts: m.uncompressed };
    assert.deepEqual(segmentationToRle(list, m.height, m.width), m.from_uncompressed, `mask ${i}`);
  }
});

Deno.test("long counts (multi-character, negative deltas) round-trip like rleToString/rleFrString", () => {
  for (const [i, c] of fixture.long_counts.entries()) {
    assert.equal(rleCountsToString(c.counts), c.rle.counts, `case ${i} encode`);
    assert.deepEqual(Array.from(rleCountsFromString(c.rle.counts)), c.counts, `case ${i} decode`);
    assert.equal(rleArea(c.rle), c.area, `case ${i} area`);
    assert.deepEqual(rleToBbox(c.rle), c.bbox, `case ${i} bbox`);
  }
});

Deno.test("rleMerge union and intersection match pycocotools", () => {
  for (const [i, mg] of fixture.merges.entries()) {
    const rles = mg.indices.map((j) => fixture.masks[j].rle);
    assert.deepEqual(rleMerge(rles), mg.union, `merge ${i} union`);
    assert.deepEqual(rleMerge(rles, true), mg.intersect, `merge ${i} intersect`);
    const lists = mg.indices.map((j) => ({
      size: fixture.masks[j].rle.size,
      counts: fixture.masks[j].uncompressed,
    }));
    assert.deepEqual(rleMerge(lists), mg.union, `merge ${i} union (lists)`);
  }
});

Deno.test("rleIou matches pycocotools mask.iou within 1e-9, crowd flags included", () => {
  let worst = 0;
  for (const c of fixture.ious) {
    const dets = c.dets.map((j) => fixture.masks[j].rle);
    const gts = c.gts.map((j) => fixture.masks[j].rle);
    worst = Math.max(worst, maxAbsDiff(rleIou(dets, gts, c.iscrowd), c.iou));
  }
  assert.ok(worst <= 1e-9, `max |Δ| ${worst}`);
  assert.ok(
    fixture.ious.some((c) => c.iou.flat().some((v) => v > 0 && v < 1)),
    "fixture has partial overlaps",
  );
});

Deno.test("bboxIou matches pycocotools bbIou within 1e-9", () => {
  let worst = 0;
  for (const c of fixture.box_ious) {
    worst = Math.max(worst, maxAbsDiff(bboxIou(c.dets, c.gts, c.iscrowd), c.iou));
  }
  assert.ok(worst <= 1e-9, `max |Δ| ${worst}`);
});

Deno.test("polygonsToRle rasterises exactly like pycocotools frPyObjects, merged like annToRLE", () => {
  for (const [i, p] of fixture.polygons.entries()) {
    assert.deepEqual(polygonsToRle(p.polygons, p.height, p.width), p.rles, `polygon set ${i}`);
    const merged = segmentationToRle(p.polygons, p.height, p.width);
    assert.deepEqual(merged, p.merged, `polygon set ${i} merged`);
    assert.equal(rleArea(merged), p.area, `polygon set ${i} area`);
  }
});

Deno.test("4-number entries rasterise as xywh boxes like frPyObjects", () => {
  for (const [i, b] of fixture.boxes.entries()) {
    b.boxes.forEach((box, j) => {
      assert.deepEqual(segmentationToRle([box], b.height, b.width), b.rles[j], `box set ${i}[${j}]`);
    });
  }
});

Deno.test("bad inputs throw errors naming the argument", () => {
  assert.throws(() => rleEncode(new Uint8Array(5), 2, 3), /rleEncode: mask has 5 elements/);
  assert.throws(
    () => rleToRuns({ size: [2, 2], counts: "0~" }, "x"),
    /x\.counts: character "~" at position 1/,
  );
  assert.throws(() => rleToRuns({ size: [2, 2], counts: [1, -1] }, "x"), /x\.counts\[1\]/);
  assert.throws(() => rleDecode({ size: [2, 2], counts: [1, 9] }), /more than height×width/);
  const a = fixture.masks[0].rle, b = fixture.masks[1].rle;
  assert.throws(() => rleMerge([a, b]), /rleMerge: rles\[1\] is/);
  assert.throws(() => rleIou([a], [a], [0, 1]), /iscrowd has 2 flags but there are 1 gts/);
  assert.throws(() => polygonsToRle([[1, 2, 3]], 4, 4), /polygons\[0\] must have an even number/);
  // Runs that end early make maskApi loop forever; here they throw.
  const short = { size: [2, 2] as [number, number], counts: [0, 2] },
    full = { size: [2, 2] as [number, number], counts: [0, 4] };
  assert.throws(() => rleMerge([full, short]), /rleMerge: rles\[1\] runs cover a different pixel count/);
  assert.throws(() => rleIou([short], [full]), /rleIou: detection 0 and ground truth 0/);
});

Deno.test("sizes that differ give IoU -1, as maskApi", () => {
  const a = fixture.masks[0].rle, b = fixture.masks[1].rle;
  assert.notDeepEqual(a.size, b.size);
  const full = { size: b.size, counts: [0, b.size[0] * b.size[1]] };
  const aFull = { size: a.size, counts: [0, a.size[0] * a.size[1]] };
  assert.deepEqual(rleIou([aFull], [full]), [[-1]]);
});
