// Dataset specs of train / eval --images: each layout parses, formats back to the same text, and opens
// with its class names; malformed specs and missing folders are usage errors naming the option.
import assert from "node:assert/strict";
import { UsageError } from "../../cli/_common.ts";
import { formatDatasetSpec, openDataset, parseDatasetSpec } from "../../cli/_train_data.ts";
import { VOC_CLASS_NAMES } from "../../data/voc_dataset.ts";
import {
  layoutItems,
  writeCocoWithBackground,
  writeFolder,
  writePennFudan,
  writeVoc,
} from "../data/_layouts.ts";

Deno.test("folder, pennfudan, voc (with a split) and coco specs parse, round-trip and open", async () => {
  const root = await Deno.makeTempDir();
  try {
    const items = layoutItems(2);
    await writeFolder(`${root}/f`, items);
    await writePennFudan(`${root}/p`, items);
    await writeVoc(`${root}/v`, items);
    const ann = await writeCocoWithBackground(`${root}/c`, items);
    const cases: [string, number, readonly string[] | undefined][] = [
      [`folder:${root}/f`, 3, undefined],
      [`pennfudan:${root}/p`, 3, ["background", "pedestrian"]],
      [`voc:${root}/v`, 3, VOC_CLASS_NAMES],
      [`voc:${root}/v:train`, 2, VOC_CLASS_NAMES],
      [`coco:${ann}:${root}/c`, 3, ["background", "square", "circle", "triangle"]],
    ];
    for (const [text, length, names] of cases) {
      const spec = await parseDatasetSpec("--dataset", text);
      assert.equal(formatDatasetSpec(spec), text);
      const opened = await openDataset(spec, { size: 64, seed: 0, masks: true });
      assert.equal(opened.dataset.length, length, text);
      assert.deepEqual(opened.classNames, names, text);
      const negative = await opened.dataset.get(length - 1);
      assert.equal(negative.target.labels.length, 0, `${text}: the image without objects is kept`);
    }
    const coco = await openDataset(await parseDatasetSpec("--dataset", `coco:${ann}:${root}/c`), {
      size: 64,
      seed: 0,
      masks: true,
    });
    assert.deepEqual(coco.categoryIds, [-1, 1, 2, 3]);
    assert.equal(coco.notes?.length, 1);
    const bad: [string, RegExp][] = [
      ["pennfudan:", /pennfudan needs pennfudan:DIR/],
      [`voc:${root}/nothing`, /voc folder: no such file/],
      [`voc:${root}/v:test`, /voc split: no such file: .*test\.txt/],
      ["folder", /folder needs folder:DIR/],
    ];
    for (const [text, message] of bad) {
      await assert.rejects(
        () => parseDatasetSpec("--dataset", text),
        (e) => e instanceof UsageError && message.test(e.message),
        text,
      );
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
