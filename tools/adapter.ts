/**
 * Prints the WebGPU adapter this machine gives (CI runs it first); exits 1 if there is none.
 * @module
 */
import { getGpu, NoAdapterError } from "../ops/mod.ts";

try {
  const gpu = await getGpu();
  const { description, vendor, isFallbackAdapter, features, limits } = gpu.info;
  console.log(`adapter: ${description} (vendor ${vendor}${isFallbackAdapter ? ", software fallback" : ""})`);
  console.log(`features: ${features.join(", ") || "none"}`);
  console.log(`limits: ${Object.entries(limits).map(([k, v]) => `${k}=${v}`).join(" ")}`);
  gpu.device.destroy();
} catch (error) {
  if (error instanceof NoAdapterError) {
    console.error(error.message);
    Deno.exit(1);
  }
  throw error;
}
