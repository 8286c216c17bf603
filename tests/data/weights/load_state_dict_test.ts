/**
 * Weight files in and out: `loadStateDict` reads bytes, an `ArrayBuffer`, a path, a file URL and a fetch
 * `Response` alike and renames to canonical torchvision 0.14 names (a file holding one tensor under both
 * generations of names is refused); `stateDictToSafetensors` writes canonical names that load back
 * bit-exactly, with checksums.
 * @module
 */
import assert from "node:assert/strict";
import { loadStateDict, stateDictToSafetensors } from "../../../data/weights/load_state_dict.ts";
import { readSafetensors, writeSafetensors } from "../../../data/weights/safetensors.ts";
import { WeightsFormatError } from "../../../data/weights/errors.ts";
import { fixtureBytes, fixtureUrl } from "../../model/_weights_fixtures.ts";
import { randomFloats } from "../../_util.ts";

Deno.test("stateDictToSafetensors writes torchvision 0.14 names that load back bit-exactly", async () => {
  const old = await loadStateDict(fixtureUrl("small_subset_v1names.pth"));
  const renamed = new Map([...old].map(([n, t]) => [n.replace("rpn.head.conv.0.0.", "rpn.head.conv."), t]));
  const bytes = stateDictToSafetensors(renamed, { source: "test" });
  const back = await loadStateDict(bytes);
  assert.deepEqual([...back.keys()], [...old.keys()]);
  for (const [n, t] of old) assert.deepEqual(back.get(n)!.data, t.data, n);
  const header = new TextDecoder().decode(bytes.subarray(8, 8 + 200));
  assert.match(header, /"__metadata__":\{"format":"pt","source":"test","maskrcnn_checksum":/);
  const { metadata, verified } = readSafetensors(bytes);
  assert.deepEqual([metadata, verified], [{ format: "pt", source: "test" }, true]);
});

Deno.test("loadStateDict takes bytes, ArrayBuffer, path and file URL alike", async () => {
  const bytes = fixtureBytes("small_subset.safetensors");
  const path = fixtureUrl("small_subset.safetensors").pathname;
  const loaded = [
    await loadStateDict(bytes),
    await loadStateDict(bytes.buffer),
    await loadStateDict(path),
    await loadStateDict(fixtureUrl("small_subset.safetensors")),
  ];
  for (const sd of loaded) assert.deepEqual(sd, loaded[0]);
  assert.ok(loaded[0].has("backbone.fpn.inner_blocks.0.0.weight"));
});

Deno.test("loadStateDict takes a fetch Response; a failed one is a WeightsFormatError naming it", async () => {
  const bytes = fixtureBytes("small_subset.safetensors");
  assert.deepEqual(await loadStateDict(new Response(bytes.slice())), await loadStateDict(bytes));
  await assert.rejects(
    loadStateDict(new Response("gone", { status: 404, statusText: "Not Found" }), { file: "w.safetensors" }),
    (e: Error) => e instanceof WeightsFormatError && /w\.safetensors.*HTTP 404 Not Found/.test(e.message),
  );
});

Deno.test("two names of one tensor (both generations in one file) are refused", async () => {
  const t = { shape: [64], data: randomFloats(64, 9) };
  const both = writeSafetensors(new Map([["rpn.head.conv.bias", t], ["rpn.head.conv.0.0.bias", t]]));
  await assert.rejects(
    loadStateDict(both, { file: "both.safetensors" }),
    (e: unknown) =>
      e instanceof WeightsFormatError &&
      e.message.startsWith(
        "both.safetensors: tensors rpn.head.conv.bias and rpn.head.conv.0.0.bias both map",
      ),
  );
});
