/**
 * What a speed figure needs beside it: the CPU (model name, family, AVX2 / AVX-512 / FMA flags, cores), the
 * Mesa version of the Vulkan driver in use and the machine's load. Linux only (reads /proc); elsewhere the
 * fields say "unknown".
 *
 * The Mesa version comes from the driver library itself, so it is right whichever driver runs: the ICD
 * manifest named by `VK_ICD_FILENAMES` (or lavapipe's manifest in the standard folders) gives the library's
 * path, and the library carries its version string ("Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6)"). When that
 * fails, `dpkg-query -W mesa-vulkan-drivers` gives the installed package's version.
 * @module
 */

/** The CPU and driver a bench run measured on. */
export interface MachineRecord {
  /** `model name` of /proc/cpuinfo, e.g. "AMD EPYC 7B13". */
  cpuModel: string;
  /** `cpu family` (25: AMD Zen 3 / Zen 4, 26: Zen 5; Intel: 6). */
  cpuFamily: string;
  /** The CPU flags that decide lavapipe's vector width and torch's kernels. */
  avx2: boolean;
  avx512: boolean;
  fma: boolean;
  /** Logical cores this process may use. */
  cores: number;
  /** The Vulkan driver's Mesa version, e.g. "25.0.7", or "unknown". */
  mesaVersion: string;
  /** Where the Mesa version was read. */
  mesaSource: string;
  /** 1-minute load average (other processes share the cores: figures are noisier when it is high). */
  loadAverage: number;
}

/**
 * Reads the machine record (never throws).
 *
 * @example
 * ```ts
 * import { machineRecord } from "./machine.ts";
 * const m = await machineRecord();
 * console.log(`${m.cpuModel} (family ${m.cpuFamily}, ${m.avx512 ? "AVX-512" : m.avx2 ? "AVX2" : "no AVX2"}), Mesa ${m.mesaVersion}`);
 * ```
 */
export async function machineRecord(): Promise<MachineRecord> {
  const cpuinfo = await readText("/proc/cpuinfo");
  const field = (name: string) => cpuinfo.match(new RegExp(`^${name}\\s*:\\s*(.*)$`, "m"))?.[1].trim();
  const flags = new Set((field("flags") ?? "").split(/\s+/));
  const mesa = await mesaVersion();
  return {
    cpuModel: field("model name") ?? "unknown",
    cpuFamily: field("cpu family") ?? "unknown",
    avx2: flags.has("avx2"),
    avx512: flags.has("avx512f"),
    fma: flags.has("fma"),
    cores: navigator.hardwareConcurrency,
    mesaVersion: mesa.version,
    mesaSource: mesa.source,
    loadAverage: await loadAverage(),
  };
}

/**
 * The 1-minute load average from /proc/loadavg (NaN where there is none).
 *
 * @example
 * ```ts
 * import { loadAverage } from "./machine.ts";
 * console.log(await loadAverage());
 * ```
 */
export async function loadAverage(): Promise<number> {
  const text = await readText("/proc/loadavg");
  return text ? Number(text.split(" ")[0]) : NaN;
}

/**
 * The Mesa version of the Vulkan driver this process loads, and where it was read (see the module notes).
 *
 * @example
 * ```ts
 * import { mesaVersion } from "./machine.ts";
 * console.log(await mesaVersion()); // { version: "25.0.7", source: "/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so" }
 * ```
 */
export async function mesaVersion(): Promise<{ version: string; source: string }> {
  const manifests = Deno.env.get("VK_ICD_FILENAMES")?.split(":").filter((p) => p) ??
    await lavapipeManifests();
  for (const manifest of manifests) {
    let library: string | undefined;
    try {
      library = JSON.parse(await Deno.readTextFile(manifest))?.ICD?.library_path;
    } catch {
      continue;
    }
    if (!library) continue;
    const dir = manifest.slice(0, manifest.lastIndexOf("/") + 1);
    const candidates = library.startsWith("/")
      ? [library]
      : library.includes("/")
      ? [dir + library]
      : ["/usr/lib/x86_64-linux-gnu/", "/usr/lib/aarch64-linux-gnu/", "/usr/lib64/", "/usr/lib/"].map((d) =>
        d + library
      );
    for (const path of candidates) {
      const version = await versionInLibrary(path);
      if (version) return { version, source: path };
    }
  }
  try {
    const { success, stdout } = await new Deno.Command("dpkg-query", {
      args: ["-W", "-f", "${Version}", "mesa-vulkan-drivers"],
      stdout: "piped",
      stderr: "null",
    }).output();
    const text = new TextDecoder().decode(stdout).trim();
    const version = text.match(/^(?:\d+:)?(\d+\.\d+\.\d+)/)?.[1];
    if (success && version) return { version, source: "dpkg-query mesa-vulkan-drivers" };
  } catch {
    // no dpkg or no permission to run it
  }
  return { version: "unknown", source: "none" };
}

async function lavapipeManifests(): Promise<string[]> {
  const found: string[] = [];
  for (const dir of ["/etc/vulkan/icd.d", "/usr/local/share/vulkan/icd.d", "/usr/share/vulkan/icd.d"]) {
    try {
      for await (const entry of Deno.readDir(dir)) {
        if (entry.name.startsWith("lvp_icd")) found.push(`${dir}/${entry.name}`);
      }
    } catch {
      // folder missing
    }
  }
  return found;
}

/** Finds "Mesa X.Y.Z" in the library's bytes. */
async function versionInLibrary(path: string): Promise<string | null> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch {
    return null;
  }
  // latin1 keeps one character per byte, so the regular expression sees the raw strings.
  const text = new TextDecoder("latin1").decode(bytes);
  return text.match(/Mesa (\d+\.\d+\.\d+)/)?.[1] ?? null;
}

/** Reads a /proc file: directly where allowed (Deno asks `--allow-all` for /proc), else through `cat`. */
async function readText(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    // fall through to cat (needs --allow-run, which `deno task bench` has)
  }
  try {
    const { success, stdout } = await new Deno.Command("cat", {
      args: [path],
      stdout: "piped",
      stderr: "null",
    })
      .output();
    return success ? new TextDecoder().decode(stdout) : "";
  } catch {
    return "";
  }
}
