/**
 * Picks the GPU of one process among several on a machine (one process per GPU in data-parallel
 * training). WebGPU's `requestAdapter` cannot choose between identical cards, `CUDA_VISIBLE_DEVICES` does
 * not reach NVIDIA's Vulkan driver and the Vulkan loader's vendor:device filter cannot tell two identical
 * cards apart, so this uses Mesa's Vulkan device-select layer (in `mesa-vulkan-drivers`), which sits above
 * every driver and picks by PCI address: `DRI_PRIME=pci-0000_3b_00_0` with
 * `MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE=1`, set before the first `requestAdapter` (i.e. before
 * `getGpu`).
 *
 * Which GPU: `$MASKRCNN_GPUS` (a comma-separated list of PCI addresses, one per local rank, e.g.
 * `0000:3b:00.0,0000:5e:00.0`) when set, else the machine's display controllers (PCI class 0x03) in
 * address order; local rank k takes entry k mod count. A `DRI_PRIME` already set by the user wins. With
 * no PCI GPU (lavapipe, Mesa's CPU Vulkan) nothing is set.
 * @module
 */

/** What {@link selectGpuForLocalRank} did. */
export interface GpuSelection {
  /** The PCI address chosen (`0000:3b:00.0`), or null when nothing was set. */
  pciAddress: string | null;
  /** Why: "DRI_PRIME already set", "MASKRCNN_GPUS", "PCI display controllers" or "no PCI GPU". */
  reason: string;
}

function readText(path: string): string | null {
  try {
    return Deno.readTextFileSync(path).trim();
  } catch {
    return null;
  }
}

/**
 * The machine's PCI display controllers (class 0x03xxxx) in address order, from `/sys/bus/pci/devices`.
 *
 * @example
 * ```ts
 * import { pciDisplayDevices } from "./device_select.ts";
 * console.log(pciDisplayDevices()); // e.g. ["0000:3b:00.0", "0000:5e:00.0"], [] on a CPU-only machine
 * ```
 */
export function pciDisplayDevices(root = "/sys/bus/pci/devices"): string[] {
  const out: string[] = [];
  try {
    for (const entry of Deno.readDirSync(root)) {
      const cls = readText(`${root}/${entry.name}/class`);
      if (cls && /^0x03/i.test(cls)) out.push(entry.name);
    }
  } catch {
    return [];
  }
  return out.sort();
}

/**
 * `DRI_PRIME`'s spelling of a PCI address: `0000:3b:00.0` → `pci-0000_3b_00_0`.
 *
 * @example
 * ```ts
 * import { driPrimeValue } from "./device_select.ts";
 * console.log(driPrimeValue("0000:3b:00.0")); // "pci-0000_3b_00_0"
 * ```
 */
export function driPrimeValue(pciAddress: string): string {
  return `pci-${pciAddress.replace(/[:.]/g, "_")}`;
}

/**
 * Points Mesa's device-select layer at the GPU of `localRank` (see the module notes); call before the
 * first `getGpu()`. Needs `--allow-env` (and `--allow-read` for `/sys` to list the GPUs).
 *
 * @example
 * ```ts
 * import { selectGpuForLocalRank } from "./device_select.ts";
 * const s = selectGpuForLocalRank(1, { devices: ["0000:3b:00.0", "0000:5e:00.0"], env: new Map() });
 * console.log(s.pciAddress); // "0000:5e:00.0"
 * ```
 */
export function selectGpuForLocalRank(
  localRank: number,
  options: { devices?: readonly string[]; env?: Map<string, string> } = {},
): GpuSelection {
  const get = (k: string) => options.env ? options.env.get(k) : Deno.env.get(k);
  const set = (k: string, v: string) => options.env ? options.env.set(k, v) : Deno.env.set(k, v);
  if (get("DRI_PRIME")) return { pciAddress: null, reason: "DRI_PRIME already set" };
  const listed = get("MASKRCNN_GPUS");
  const fromEnv = listed ? listed.split(",").map((s) => s.trim()).filter((s) => s !== "") : null;
  const devices = fromEnv ?? options.devices ?? pciDisplayDevices();
  if (devices.length === 0) return { pciAddress: null, reason: "no PCI GPU" };
  const pciAddress = devices[localRank % devices.length];
  set("DRI_PRIME", driPrimeValue(pciAddress));
  set("MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE", "1");
  return { pciAddress, reason: fromEnv ? "MASKRCNN_GPUS" : "PCI display controllers" };
}
