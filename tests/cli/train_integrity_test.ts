/**
 * `train --resume` on a damaged checkpoint: refused with a message naming the file and the integrity check
 * (it used to resume with garbage weights and exit 0), and the temporary files of killed writes in the run
 * folder are removed when train starts there.
 * @module
 */
import assert from "node:assert/strict";
import { runCli } from "./_cli.ts";

Deno.test("train --resume refuses a checkpoint with flipped bits and clears stale temporary files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cli_train_integrity_" });
  try {
    const config = `${dir}/c64.json`;
    await Deno.writeTextFile(config, JSON.stringify({ preset: "small", minSize: 64, maxSize: 64 }));
    const out = `${dir}/run`;
    const args = ["--dataset", "shapes", "--config", config, "--batch", "2", "--out", out];
    const first = await runCli(["train", ...args, "--steps", "1"]);
    assert.equal(first.code, 0, first.err.join("\n"));
    const stale = [".checkpoint.safetensors.999999.0badc0de.tmp", "model.safetensors.tmp"];
    for (const name of stale) await Deno.writeFile(`${out}/${name}`, new Uint8Array(1024));
    await Deno.writeTextFile(`${out}/notes.tmp`, "mine");

    const path = `${out}/checkpoint.safetensors`;
    const bytes = await Deno.readFile(path);
    const dataStart = 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true));
    for (let i = 0; i < 50; i++) bytes[dataStart + ((i * 7919) % (bytes.length - dataStart))] ^= 0x40;
    await Deno.writeFile(path, bytes);

    const resumed = await runCli(["train", "--resume", "--steps", "2", "--out", out]);
    assert.notEqual(resumed.code, 0);
    const text = [...resumed.out, ...resumed.err].join("\n");
    assert.match(text, /checkpoint\.safetensors.*integrity check failed/);
    assert.ok(text.includes(path), text);
    const left = [];
    for await (const e of Deno.readDir(out)) left.push(e.name);
    for (const name of stale) assert.ok(!left.includes(name), `${name} still there`);
    assert.ok(left.includes("notes.tmp"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
