/**
 * The data-pipeline section: runs `tools/bench_data.ts` in its own process (its JPEG generation needs
 * imagescript's native encoder and so `--allow-ffi`, which the library and the other sections never need).
 * @module
 */
import type { BenchRow } from "./_report.ts";

/** Images per second of decode + masks + resize + flip + collate, direct and through the loader. */
export async function benchData(): Promise<BenchRow[]> {
  const script = new URL("../bench_data.ts", import.meta.url).pathname;
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", "--allow-env", "--allow-ffi", script, "--json"],
  }).output();
  const lines = new TextDecoder().decode(stdout).trim().split("\n");
  if (code !== 0) throw new Error(`bench_data.ts failed: ${new TextDecoder().decode(stderr)}`);
  const figures = JSON.parse(lines.at(-1)!);
  return [
    {
      label: "data pipeline, 640×480 JPEG, 10 polygons",
      value: figures.data_images_per_s,
      unit: "images/s",
      key: "data_images_per_s",
    },
    {
      label: "data loader with prefetch",
      value: figures.loader_images_per_s,
      unit: "images/s",
      key: "loader_images_per_s",
    },
    { label: "  decode", value: figures.decode_ms_per_image, unit: "ms/image", key: "data_decode_ms" },
    {
      label: "  resize 800/1333",
      value: figures.resize_ms_per_image,
      unit: "ms/image",
      key: "data_resize_ms",
    },
  ];
}
