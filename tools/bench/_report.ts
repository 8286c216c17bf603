/**
 * The benchmark table: each section adds rows (label, value, unit, JSON key). `deno task bench` prints the
 * table, and with `--json` a last stdout line holding every figure under its stable snake_case key.
 * @module
 */

/** One measured figure. */
export interface BenchRow {
  /** What was measured, for people. */
  label: string;
  /** The figure. */
  value: number;
  /** Its unit, e.g. `ms`, `GFLOP/s`. */
  unit: string;
  /** The stable snake_case JSON key. */
  key: string;
}

/** Times `fn` once after `warmup` runs; returns milliseconds. */
export async function timeMs(fn: () => Promise<void>, warmup = 1): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** Formats the rows as an aligned table. */
export function formatTable(rows: readonly BenchRow[]): string {
  const width = Math.max(...rows.map((r) => r.label.length), 10);
  return rows.map((r) => `${r.label.padEnd(width)}  ${formatValue(r.value).padStart(12)} ${r.unit}`).join(
    "\n",
  );
}

function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 100) return v.toFixed(1);
  if (Math.abs(v) >= 1) return v.toFixed(2);
  return v.toPrecision(3);
}
