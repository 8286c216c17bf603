// The shape of the public API (issue 11): the main export stays a curated list (under 120 names, types
// included, as `deno doc` lists them) without the op library's runtime internals, which live in the
// `./ops` sub-path; and the command-line tools use only what the package exports.
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

/** The exported names of a module, from `deno doc --json` (values and types). */
async function exportedNames(path: string): Promise<string[]> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", new URL(path, ROOT).pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  const doc = JSON.parse(new TextDecoder().decode(output.stdout));
  const node = Object.values(doc.nodes as Record<string, { symbols: { name: string }[] }>)[0];
  return [...new Set(node.symbols.map((s) => s.name))];
}

Deno.test("the main export lists under 120 names and no op-library internals; ./ops has the ops", async () => {
  const main = await exportedNames("mod.ts");
  assert.ok(main.length < 120, `mod.ts exports ${main.length} names`);
  for (const name of ["detect", "trainStep", "buildModel", "loadWeights", "loadCheckpoint", "evaluateCoco"]) {
    assert.ok(main.includes(name), `mod.ts lacks ${name}`);
  }
  for (const name of ["dispatch", "params", "tensorFromArray", "conv2d", "roiAlign", "detectImages"]) {
    assert.ok(!main.includes(name), `mod.ts exports the internal ${name}`);
  }
  const ops = await exportedNames("ops/mod.ts");
  for (const name of ["getGpu", "tensorFromArray", "dispatch", "conv2d", "roiAlign", "nms", "ShapeError"]) {
    assert.ok(ops.includes(name), `ops/mod.ts lacks ${name}`);
  }
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  assert.equal(config.exports["./ops"], "./ops/mod.ts");
});

Deno.test("cli/ imports nothing from model/, ops/ or data/: only ../mod.ts", async () => {
  const offenders: string[] = [];
  for (const entry of Deno.readDirSync(new URL("cli/", ROOT))) {
    if (!entry.name.endsWith(".ts")) continue;
    const text = await Deno.readTextFile(new URL(`cli/${entry.name}`, ROOT));
    text.split("\n").forEach((line, i) => {
      if (/["']\.\.\/(model|ops|data)\//.test(line)) {
        offenders.push(`cli/${entry.name}:${i + 1}: ${line.trim()}`);
      }
    });
  }
  assert.deepEqual(offenders, []);
});
