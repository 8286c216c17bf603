/**
 * The command-line tools of `@maskrcnn/webgpu`: `detect` (images → overlay PNGs and COCO results), `eval`
 * (COCO evaluation of a results file, or of a model on a COCO dataset), `train` (training runs with
 * checkpoints and resume) and `demo` (train the small model on shapes from scratch and report its AP).
 *
 * ```sh
 * deno task detect --weights model.pth --out out photo.jpg
 * deno task eval --gt instances_val2017.json --results out/results.json --type bbox
 * deno task demo
 * deno task train --dataset shapes --val shapes --steps 300 --out runs/shapes
 * deno run -A jsr:@maskrcnn/webgpu/cli detect --help
 * ```
 *
 * Each subcommand lives in `cli/<name>.ts` and is listed in {@link COMMANDS} (loaded on first use, so
 * `--help` starts fast); add a row there to add one. {@link main} runs a command line in-process against an
 * output sink, which is what the tests use. Exit codes: 0 success, 1 failure while working, 2 usage error,
 * 3 `detect` finished but skipped undecodable images.
 * @module
 */
import { type CliIo, type Command, consoleIo, UsageError } from "./cli/_common.ts";

export { consoleIo, UsageError } from "./cli/_common.ts";
export type { CliIo, Command } from "./cli/_common.ts";

/** A row of the subcommand table: a one-line summary and a loader for the command's module. */
export interface CommandEntry {
  /** One line for the command list of `--help`. */
  summary: string;
  /** Imports the command's module and returns the command. */
  load(): Promise<Command>;
}

/**
 * The subcommands by name. To add one (e.g. `train`), write `cli/train.ts` exporting a {@link Command} and
 * add a row here (and a `deno task` entry in deno.json).
 *
 * @example List the commands
 * ```ts
 * import { COMMANDS } from "./cli.ts";
 * for (const [name, { summary }] of Object.entries(COMMANDS)) console.log(name, summary);
 * ```
 */
export const COMMANDS: Readonly<Record<string, CommandEntry>> = Object.freeze({
  detect: {
    summary: "detect objects in images; write overlay PNGs and COCO results.json",
    load: async () => (await import("./cli/detect.ts")).detectCommand,
  },
  eval: {
    summary: "COCO evaluation (pycocotools' numbers) of a results file, or of a model on a dataset",
    load: async () => (await import("./cli/eval.ts")).evalCommand,
  },
  train: {
    summary: "train on shapes, COCO or TFRecord data; checkpoints, losses.jsonl, loss curve, --resume",
    load: async () => (await import("./cli/train.ts")).trainCommand,
  },
  demo: {
    summary: "train the small model on generated shapes from scratch, then report box/mask AP@0.5",
    load: async () => (await import("./cli/demo.ts")).demoCommand,
  },
});

const PROGRAM = "maskrcnn";

/** An environment variable, or undefined without env permission (never prompts). */
function readEnv(name: string): string | undefined {
  const granted = Deno.permissions.querySync({ name: "env", variable: name }).state === "granted";
  return granted ? Deno.env.get(name) : undefined;
}

/** `MASKRCNN_CLI_DEBUG=1` prints stack traces of failures. */
function debugEnabled(): boolean {
  return Boolean(readEnv("MASKRCNN_CLI_DEBUG"));
}

function globalHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length)) + 2;
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}${c.summary}`);
  return [
    `Usage: deno run -A cli.ts <command> [options]   (or: deno task <command> [options])`,
    "",
    "Commands:",
    ...rows,
    "",
    `Run '${PROGRAM} <command> --help' (deno run -A cli.ts <command> --help) for a command's options.`,
    "Exit codes: 0 success, 1 failure while working, 2 bad arguments.",
  ].join("\n");
}

/**
 * Runs one command line (`args` without the program name, e.g. `["eval", "--gt", "gt.json", …]`) and
 * returns the exit code; all output goes to `io`. Usage errors print the message and a hint and return 2;
 * other errors print their message and return 1. Never calls `Deno.exit`.
 *
 * @example Run eval in-process, collecting its output
 * ```ts
 * import { main } from "./cli.ts";
 * const lines: string[] = [];
 * const code = await main(["eval", "--help"], { out: (l) => lines.push(l), err: (l) => lines.push(l) });
 * console.log(code, lines[0]); // 0 "Usage: deno task eval …"
 * ```
 */
export async function main(args: readonly string[], io: CliIo = consoleIo): Promise<number> {
  const [name, ...rest] = args;
  if (name === "--help" || name === "-h" || (name === "help" && rest.length === 0)) {
    io.out(globalHelp());
    return 0;
  }
  if (name === undefined) {
    io.err(globalHelp());
    return 2;
  }
  if (name === "help") return await main([rest[0], "--help"], io);
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!entry) {
    io.err(
      `${PROGRAM}: unknown command ${JSON.stringify(name)}; commands: ${Object.keys(COMMANDS).join(", ")}`,
    );
    io.err(`Run '${PROGRAM} --help' for usage.`);
    return 2;
  }
  try {
    const command = await entry.load();
    return await command.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`${PROGRAM} ${name}: ${e.message}`);
      io.err(`Run '${PROGRAM} ${name} --help' for usage.`);
      return 2;
    }
    const error = e as Error;
    const kind = error?.name && error.name !== "Error" ? `${error.name}: ` : "";
    io.err(`${PROGRAM} ${name}: error: ${kind}${error?.message ?? String(e)}`);
    if (debugEnabled()) io.err(String(error?.stack));
    return 1;
  }
}

/**
 * `deno task` runs commands in the folder of deno.json and leaves the caller's folder in `INIT_CWD`: go back
 * there so that relative paths on the command line mean what the caller meant.
 */
function restoreCallerCwd(): void {
  const cwd = readEnv("INIT_CWD");
  if (!cwd || Deno.permissions.querySync({ name: "read", path: cwd }).state !== "granted") return;
  try {
    Deno.chdir(cwd);
  } catch { /* a folder that went away: stay where we are */ }
}

if (import.meta.main) {
  restoreCallerCwd();
  Deno.exit(await main(Deno.args));
}
