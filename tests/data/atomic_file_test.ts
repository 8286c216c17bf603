import assert from "node:assert/strict";
import { removeStaleTempFiles, tempPathFor, writeFileAtomic } from "../../data/atomic_file.ts";

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

// writeFileAtomic: the target holds the old or the new content, never a part; a failed write leaves no
// temporary file; and the temporary name is the one removeStaleTempFiles clears after a killed write.
Deno.test("writeFileAtomic replaces the file and leaves nothing else in the folder", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeFileAtomic(`${dir}/model.bin`, new Uint8Array([1, 2, 3]));
    await writeFileAtomic(`${dir}/model.bin`, new Uint8Array([4, 5]));
    assert.deepEqual(await Deno.readFile(`${dir}/model.bin`), new Uint8Array([4, 5]));
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["model.bin"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a write that cannot be renamed into place keeps the target and removes its temporary file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // The target is a non-empty folder: the rename fails after the temporary file was written.
    await Deno.mkdir(`${dir}/config.json`);
    await Deno.writeTextFile(`${dir}/config.json/keep`, "x");
    await assert.rejects(writeFileAtomic(`${dir}/config.json`, "{}\n"));
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["config.json"]);
    assert.equal(await Deno.readTextFile(`${dir}/config.json/keep`), "x");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the temporary files of a killed writer are the ones removeStaleTempFiles clears", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // What a writer in another process (pid 4711) left: the name tempPathFor gives, with its pid.
    const own = tempPathFor(`${dir}/config.json`).slice(dir.length + 1);
    const other = own.replace(`.${Deno.pid}.`, ".4711.");
    await Deno.writeTextFile(`${dir}/${other}`, "partial");
    await writeFileAtomic(`${dir}/config.json`, "{}\n");
    assert.deepEqual(await removeStaleTempFiles(dir), [other]);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["config.json"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
