/**
 * The loss-curve picture of a training run (`RUNDIR/loss_curve.png`): the total loss and the five losses
 * over steps as polylines on a white RGBA canvas, with a log-scale y axis (decade grid lines and labels),
 * a step axis with round ticks, a title and a legend, drawn with the built-in 5×7 font and encoded with
 * `encodePng`. No plotting library: lines are Bresenham segments, thicker for the total.
 *
 * Decisions: per-step losses are noisy, so each curve is a running mean over `window` steps (1/50 of the
 * run, at least 1; named in the title); a log axis because the five losses span two to three decades;
 * values ≤ 0 or non-finite are left out of the curve.
 * @module
 */
import { drawText, encodePng, textSize } from "../mod.ts";

/** One logged step: the step number and the losses by name. */
export interface LossRecord {
  step: number;
  total: number;
  rpnObjectness: number;
  rpnBoxReg: number;
  classifier: number;
  boxReg: number;
  mask: number;
}

/** The curves in legend order: key, legend name, colour. */
export const LOSS_SERIES: readonly { key: keyof Omit<LossRecord, "step">; name: string; color: number[] }[] =
  [
    { key: "total", name: "total", color: [0, 0, 0] },
    { key: "rpnObjectness", name: "rpn objectness", color: [31, 119, 180] },
    { key: "rpnBoxReg", name: "rpn box reg", color: [255, 127, 14] },
    { key: "classifier", name: "classifier", color: [44, 160, 44] },
    { key: "boxReg", name: "box reg", color: [214, 39, 40] },
    { key: "mask", name: "mask", color: [148, 103, 189] },
  ];

/** Options of {@link drawLossCurve}. */
export interface LossCurveOptions {
  /** Canvas width in pixels (default 800). */
  width?: number;
  /** Canvas height in pixels (default 480). */
  height?: number;
  /** Running-mean window in steps (default: 1/50 of the records, at least 1). */
  window?: number;
}

class Canvas {
  readonly rgba: Uint8Array;
  constructor(readonly width: number, readonly height: number) {
    this.rgba = new Uint8Array(width * height * 4).fill(255);
  }
  set(x: number, y: number, c: readonly number[]): void {
    x = Math.round(x), y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const o = 4 * (y * this.width + x);
    this.rgba[o] = c[0], this.rgba[o + 1] = c[1], this.rgba[o + 2] = c[2], this.rgba[o + 3] = 255;
  }
  line(x0: number, y0: number, x1: number, y1: number, c: readonly number[], thick = 1): void {
    x0 = Math.round(x0), y0 = Math.round(y0), x1 = Math.round(x1), y1 = Math.round(y1);
    const dx = Math.abs(x1 - x0), dy = -Math.abs(y1 - y0);
    const sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    let err = dx + dy;
    for (;;) {
      for (let t = 0; t < thick; t++) this.set(x0 + (dy === 0 ? 0 : t), y0 + (dy === 0 ? t : 0), c);
      if (x0 === x1 && y0 === y1) return;
      const e2 = 2 * err;
      if (e2 >= dy) err += dy, x0 += sx;
      if (e2 <= dx) err += dx, y0 += sy;
    }
  }
  text(s: string, x: number, y: number, c: readonly number[], scale = 1): void {
    drawText(this.rgba, this.width, this.height, s, { x, y, scale, color: c });
  }
}

function runningMean(values: readonly number[], window: number): number[] {
  const out: number[] = [];
  let sum = 0, n = 0;
  const q: number[] = [];
  for (const v of values) {
    const ok = Number.isFinite(v) && v > 0;
    q.push(ok ? v : NaN);
    if (ok) sum += v, n++;
    if (q.length > window) {
      const old = q.shift()!;
      if (!Number.isNaN(old)) sum -= old, n--;
    }
    out.push(n > 0 && ok ? sum / n : NaN);
  }
  return out;
}

/** Round step ticks: 1, 2 or 5 × 10^k apart, about five of them. */
function stepTicks(max: number): number[] {
  const raw = Math.max(1, max / 5);
  const pow = 10 ** Math.floor(Math.log10(raw));
  const unit = [1, 2, 5, 10].map((m) => m * pow).find((u) => u >= raw)!;
  const ticks: number[] = [];
  for (let t = 0; t <= max; t += unit) ticks.push(t);
  return ticks;
}

function formatDecade(e: number): string {
  return e >= 0 ? String(10 ** e) : (10 ** e).toFixed(-e);
}

/**
 * Draws the loss curves of `records` (in step order) and returns PNG bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert";
 * import { decodeImage } from "../mod.ts";
 * import { drawLossCurve } from "./_loss_curve.ts";
 * const records = [1, 2, 3].map((step) => ({
 *   step, total: 3 / step, rpnObjectness: 0.5 / step, rpnBoxReg: 0.1, classifier: 1 / step, boxReg: 0.4, mask: 0.7,
 * }));
 * const png = drawLossCurve(records, { width: 200, height: 120 }); // train writes RUNDIR/loss_curve.png
 * const image = await decodeImage(png);
 * assert.deepStrictEqual([image.width, image.height], [200, 120]);
 * ```
 */
export function drawLossCurve(records: readonly LossRecord[], options: LossCurveOptions = {}): Uint8Array {
  const width = options.width ?? 800, height = options.height ?? 480;
  const canvas = new Canvas(width, height);
  const left = 56, right = width - 150, top = 28, bottom = height - 36;
  const axis = [0, 0, 0], grid = [225, 225, 225], muted = [90, 90, 90];
  const window = Math.max(1, options.window ?? Math.round(records.length / 50));
  const series = LOSS_SERIES.map((s) => runningMean(records.map((r) => r[s.key]), window));
  const finite = series.flat().filter((v) => Number.isFinite(v));
  const lo = Math.floor(Math.log10(finite.length ? Math.min(...finite) : 0.1));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(finite.length ? Math.max(...finite) : 1)));
  const firstStep = records.length ? records[0].step : 0;
  const maxStep = Math.max(firstStep + 1, records.length ? records[records.length - 1].step : 1);
  const xOf = (step: number) => left + ((step - 0) / maxStep) * (right - left);
  const yOf = (v: number) => bottom - ((Math.log10(v) - lo) / (hi - lo)) * (bottom - top);

  // Grid, axes and labels.
  for (let e = lo; e <= hi; e++) {
    const y = yOf(10 ** e);
    canvas.line(left, y, right, y, grid);
    const label = formatDecade(e);
    const size = textSize(label);
    canvas.text(label, left - 6 - size.width, y - size.height / 2, muted);
  }
  for (const t of stepTicks(maxStep)) {
    const x = xOf(t);
    canvas.line(x, top, x, bottom, grid);
    canvas.line(x, bottom, x, bottom + 4, axis);
    const label = String(t);
    canvas.text(label, x - textSize(label).width / 2, bottom + 8, muted);
  }
  canvas.line(left, top, left, bottom, axis);
  canvas.line(left, bottom, right, bottom, axis);
  canvas.text("step", (left + right) / 2 - textSize("step").width / 2, bottom + 20, axis);
  const title = `training loss (log scale${window > 1 ? `, mean of ${window} steps` : ""})`;
  canvas.text(title, left, 8, axis, 2);

  // Curves, the total last so it is on top.
  const order = [...LOSS_SERIES.keys()].slice(1).concat([0]);
  for (const k of order) {
    const values = series[k];
    const color = LOSS_SERIES[k].color;
    let prev: [number, number] | null = null;
    records.forEach((r, i) => {
      const v = values[i];
      if (!Number.isFinite(v)) return void (prev = null);
      const point: [number, number] = [xOf(r.step), yOf(v)];
      if (prev) canvas.line(prev[0], prev[1], point[0], point[1], color, k === 0 ? 2 : 1);
      else canvas.set(point[0], point[1], color);
      prev = point;
    });
  }

  // Legend.
  LOSS_SERIES.forEach((s, i) => {
    const y = top + 6 + i * 16;
    for (let t = 0; t < 3; t++) canvas.line(right + 12, y + 2 + t, right + 32, y + 2 + t, s.color);
    canvas.text(s.name, right + 38, y, axis);
  });
  return encodePng(canvas.rgba, width, height, 4);
}
