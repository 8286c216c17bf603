// polygonsToMaskInBox (Detectron polys_to_mask_wrt_box): checked against the full-image rasteriser at
// identity scale, a float64 point-in-polygon reference away from edges, and a box-filling polygon.
import assert from "node:assert/strict";
import { polygonsToMask, polygonsToMaskInBox } from "../../data/mask_in_box.ts";

/** Even-odd point-in-polygon test (float64), independent of the COCO rasteriser. */
function insidePolygon(poly: number[], x: number, y: number): boolean {
  let inside = false;
  for (let i = 0, j = poly.length - 2; i < poly.length; j = i, i += 2) {
    const [xi, yi, xj, yj] = [poly[i], poly[i + 1], poly[j], poly[j + 1]];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Distance from (x, y) to the polygon's boundary. */
function edgeDistance(poly: number[], x: number, y: number): number {
  let best = Infinity;
  for (let i = 0, j = poly.length - 2; i < poly.length; j = i, i += 2) {
    const [ax, ay, bx, by] = [poly[j], poly[j + 1], poly[i], poly[i + 1]];
    const t = Math.max(
      0,
      Math.min(1, ((x - ax) * (bx - ax) + (y - ay) * (by - ay)) / ((bx - ax) ** 2 + (by - ay) ** 2)),
    );
    best = Math.min(best, Math.hypot(x - ax - t * (bx - ax), y - ay - t * (by - ay)));
  }
  return best;
}

const TRIANGLE = [12.3, 40.1, 30.7, 8.2, 55.9, 47.6];
const BOX = [10, 6, 58, 50];

Deno.test("a polygon filling its box gives an all-ones mask", () => {
  const mask = polygonsToMaskInBox([[10, 6, 58, 6, 58, 50, 10, 50]], BOX, 28);
  assert.ok(mask.every((v) => v === 1));
});

Deno.test("at identity scale it equals the full-image rasteriser on float32 coordinates", () => {
  // Exactly representable in float32: identical to the full-image rasteriser.
  const exact = [3.25, 4.875, 20.125, 2.75, 25.5, 18.375, 8.75, 22.25];
  assert.deepEqual(polygonsToMaskInBox([exact], [0, 0, 32, 32], 32), polygonsToMask([exact], 32, 32));
  // Detectron casts polygons to float32 first: 18.3 becomes 18.2999992, and 5·y + 0.5 truncates to 91, not
  // 92, so the result equals rasterising the float32-rounded polygon, not the float64 one.
  const poly = [3.2, 4.9, 20.1, 2.7, 25.5, 18.3, 8.8, 22.2];
  const inBox = polygonsToMaskInBox([poly], [0, 0, 32, 32], 32);
  assert.deepEqual(inBox, polygonsToMask([poly.map(Math.fround)], 32, 32));
  assert.notDeepEqual(inBox, polygonsToMask([poly], 32, 32));
});

Deno.test("pixels well inside / outside the scaled polygon agree with a float64 point-in-polygon test", () => {
  const M = 28;
  const mask = polygonsToMaskInBox([TRIANGLE], BOX, M);
  const sx = M / (BOX[2] - BOX[0]), sy = M / (BOX[3] - BOX[1]);
  const scaled = TRIANGLE.map((v, i) => (i % 2 === 0 ? (v - BOX[0]) * sx : (v - BOX[1]) * sy));
  let checked = 0, ones = 0;
  for (let y = 0; y < M; y++) {
    for (let x = 0; x < M; x++) {
      if (edgeDistance(scaled, x + 0.5, y + 0.5) < 1) continue;
      checked++;
      const want = insidePolygon(scaled, x + 0.5, y + 0.5) ? 1 : 0;
      ones += want;
      assert.equal(mask[y * M + x], want, `pixel ${x},${y}`);
    }
  }
  assert.ok(checked > 500 && ones > 100 && ones < checked - 100);
});

Deno.test("several parts are merged (union), and an empty list gives zeros", () => {
  const left = [10, 6, 30, 6, 30, 50, 10, 50], right = [40, 6, 58, 6, 58, 50, 40, 50];
  const both = polygonsToMaskInBox([left, right], BOX, 24);
  const a = polygonsToMaskInBox([left], BOX, 24), b = polygonsToMaskInBox([right], BOX, 24);
  assert.deepEqual(both, a.map((v, i) => v | b[i]));
  assert.ok(a.some((v) => v === 1) && b.some((v) => v === 1));
  assert.ok(polygonsToMaskInBox([], BOX, 8).every((v) => v === 0));
});
