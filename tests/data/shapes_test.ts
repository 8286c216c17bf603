// The generated shapes dataset: masks are checked against the drawn shape geometry re-rasterised here
// with independent point-in-shape tests (half-planes for triangles), including occlusion.
import assert from "node:assert/strict";
import { generateShapesItem, ShapesDataset, type ShapeSpec } from "../../data/shapes.ts";

function covers(s: ShapeSpec, x: number, y: number): boolean {
  if (s.label === 1) {
    return x >= s.cx - s.size && x <= s.cx + s.size && y >= s.cy - s.size && y <= s.cy + s.size;
  }
  if (s.label === 2) return Math.hypot(x - s.cx, y - s.cy) <= s.size;
  const half = s.size / Math.sin(Math.PI / 3);
  const a = [s.cx, s.cy - s.size], b = [s.cx - half, s.cy + s.size], c = [s.cx + half, s.cy + s.size];
  const cross = (p: number[], q: number[]) => (q[0] - p[0]) * (y - p[1]) - (q[1] - p[1]) * (x - p[0]);
  const d1 = cross(a, b), d2 = cross(b, c), d3 = cross(c, a);
  return !((d1 < 0 || d2 < 0 || d3 < 0) && (d1 > 0 || d2 > 0 || d3 > 0));
}

Deno.test("masks, image colours and boxes agree with the shape geometry, occlusion included", async () => {
  const ds = new ShapesDataset({ count: 30, width: 96, height: 80, seed: 5 });
  let occluded = 0;
  const counts = new Set<number>();
  for (let i = 0; i < ds.length; i++) {
    const item = await ds.get(i);
    const { width: W, height: H } = item.image;
    const n = item.target.labels.length;
    counts.add(n);
    assert.ok(n >= 1 && n <= 4);
    assert.equal(item.shapes.length, n);
    for (let k = 0; k < n; k++) {
      assert.equal(item.target.labels[k], item.shapes[k].label);
      let x1 = W, y1 = H, x2 = 0, y2 = 0, full = 0, visible = 0;
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const inK = covers(item.shapes[k], x + 0.5, y + 0.5);
          const hidden = item.shapes.slice(k + 1).some((s) => covers(s, x + 0.5, y + 0.5));
          const want = inK && !hidden ? 1 : 0;
          assert.equal(
            item.target.masks![k * W * H + y * W + x],
            want,
            `item ${i} instance ${k} at ${x},${y}`,
          );
          full += inK ? 1 : 0;
          if (want) {
            visible++;
            [x1, y1, x2, y2] = [Math.min(x1, x), Math.min(y1, y), Math.max(x2, x + 1), Math.max(y2, y + 1)];
            assert.deepEqual(
              Array.from(item.image.data.subarray(3 * (y * W + x), 3 * (y * W + x) + 3)),
              item.shapes[k].color,
            );
          }
        }
      }
      if (visible < full) occluded++;
      assert.ok(
        visible >= 0.5 * full && visible >= 16,
        `item ${i} instance ${k}: ${visible}/${full} visible`,
      );
      assert.deepEqual(Array.from(item.target.boxes.subarray(4 * k, 4 * k + 4)), [x1, y1, x2, y2]);
    }
  }
  assert.ok(occluded > 0, "some instance should be partly occluded");
  assert.ok(counts.size >= 3, `instance counts ${[...counts]}`);
});

Deno.test("generation is seeded: same seed same item, other seeds differ; all labels occur", async () => {
  const a = new ShapesDataset({ count: 40, seed: 11 });
  const b = new ShapesDataset({ count: 40, seed: 11 });
  const c = new ShapesDataset({ count: 40, seed: 12 });
  assert.deepEqual(await a.get(7), await b.get(7));
  assert.notDeepEqual((await a.get(7)).image.data, (await c.get(7)).image.data);
  assert.notDeepEqual((await a.get(7)).image.data, (await a.get(8)).image.data);
  const labels = new Set<number>();
  for (let i = 0; i < 40; i++) for (const l of (await a.get(i)).target.labels) labels.add(l);
  assert.deepEqual([...labels].sort(), [1, 2, 3]);
  assert.deepEqual(a.classNames, ["background", "square", "circle", "triangle"]);
  assert.equal(generateShapesItem(3, { width: 32, height: 24 }).image.data.length, 32 * 24 * 3);
  await assert.rejects(() => a.get(40), RangeError);
});
