import assert from "node:assert/strict";
import { removeStaleTempFiles, tempPathFor } from "../../data/atomic_file.ts";

Deno.test("removeStaleTempFiles removes only the temporary files of killed writes of other processes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const stale = [
      ".checkpoint.safetensors.999999.deadbeef.tmp",
      ".model.safetensors.12.0a1b2c3d.tmp",
      "model.safetensors.tmp",
    ];
    const kept = [
      `.checkpoint.safetensors.${Deno.pid}.01234567.tmp`, // a write of this process, in flight
      "checkpoint.safetensors",
      "notes.tmp",
      ".checkpoint.safetensors.tmp",
      ".x.12.XYZ01234.tmp",
      "run.json",
    ];
    for (const name of [...stale, ...kept]) await Deno.writeTextFile(`${dir}/${name}`, "x");
    await Deno.mkdir(`${dir}/.d.12.0a1b2c3d.tmp`); // a folder, even with the pattern, stays
    const removed = await removeStaleTempFiles(dir, ["model.safetensors.tmp"]);
    assert.deepEqual(removed, [...stale].sort());
    const left = [];
    for await (const e of Deno.readDir(dir)) left.push(e.name);
    assert.deepEqual(left.sort(), [...kept, ".d.12.0a1b2c3d.tmp"].sort());
    assert.deepEqual(await removeStaleTempFiles(`${dir}/missing`), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tempPathFor names a file the cleanup recognises, beside the target", () => {
  const tmp = tempPathFor("runs/a/checkpoint.safetensors");
  assert.match(tmp, new RegExp(`^runs/a/\\.checkpoint\\.safetensors\\.${Deno.pid}\\.[0-9a-f]{8}\\.tmp$`));
  assert.notEqual(tmp, tempPathFor("runs/a/checkpoint.safetensors"));
});
