/**
 * GPU choice per local rank: PCI display controllers listed from a sysfs-like folder (class 0x03 only, in
 * address order), `DRI_PRIME`'s spelling, the round-robin choice, and the overrides (`MASKRCNN_GPUS`, a
 * `DRI_PRIME` already set), on an environment map so the process's own stays untouched.
 * @module
 */
import assert from "node:assert/strict";
import { driPrimeValue, pciDisplayDevices, selectGpuForLocalRank } from "../../ops/device_select.ts";

Deno.test("pciDisplayDevices lists class 0x03 devices of a sysfs folder in address order", async () => {
  const root = await Deno.makeTempDir();
  const devices: Record<string, string> = {
    "0000:5e:00.0": "0x030200", // 3D controller (e.g. a data-centre GPU)
    "0000:00:02.0": "0x030000", // VGA
    "0000:3b:00.0": "0x030200",
    "0000:00:1f.2": "0x010601", // SATA: not a GPU
  };
  for (const [name, cls] of Object.entries(devices)) {
    await Deno.mkdir(`${root}/${name}`);
    await Deno.writeTextFile(`${root}/${name}/class`, cls + "\n");
  }
  assert.deepEqual(pciDisplayDevices(root), ["0000:00:02.0", "0000:3b:00.0", "0000:5e:00.0"]);
  assert.deepEqual(pciDisplayDevices(`${root}/missing`), []);
  await Deno.remove(root, { recursive: true });
});

Deno.test("selectGpuForLocalRank sets DRI_PRIME round-robin; MASKRCNN_GPUS and a set DRI_PRIME override", () => {
  assert.equal(driPrimeValue("0000:3b:00.0"), "pci-0000_3b_00_0");
  const devices = ["0000:3b:00.0", "0000:5e:00.0"];
  const env = new Map<string, string>();
  assert.deepEqual(selectGpuForLocalRank(3, { devices, env }), {
    pciAddress: "0000:5e:00.0",
    reason: "PCI display controllers",
  });
  assert.equal(env.get("DRI_PRIME"), "pci-0000_5e_00_0");
  assert.equal(env.get("MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE"), "1");
  assert.deepEqual(selectGpuForLocalRank(0, { devices, env }), {
    pciAddress: null,
    reason: "DRI_PRIME already set",
  });
  const listed = new Map([["MASKRCNN_GPUS", "0000:af:00.0, 0000:d8:00.0"]]);
  assert.equal(selectGpuForLocalRank(1, { devices, env: listed }).pciAddress, "0000:d8:00.0");
  assert.equal(listed.get("DRI_PRIME"), "pci-0000_d8_00_0");
  const none = new Map<string, string>();
  assert.deepEqual(selectGpuForLocalRank(0, { devices: [], env: none }), {
    pciAddress: null,
    reason: "no PCI GPU",
  });
  assert.equal(none.size, 0, "nothing set without a GPU");
});
