/**
 * Reads `torch.save` checkpoints without Python: the zip format of torch ≥ 1.6 (`<prefix>/data.pkl` plus
 * raw storages `<prefix>/data/<key>`) and the legacy stream format of older releases (magic-number pickle,
 * sys-info, the object pickle, the storage-key list, then each storage's bytes). The pickle is read by the
 * data-only {@link unpickle} with an allow-list of tensor-rebuilding globals; storage offset, shape and
 * stride are honoured, so non-contiguous views come out contiguous.
 *
 * Hostile files: every storage size, view (offset, shape, stride) and zip entry size is checked against
 * the others before any tensor memory is allocated or any storage is inflated: a view must lie inside its
 * storage and not overlap itself, a storage key must always be declared with the same dtype and size, and
 * a zip entry may not hold more than its storage declares ({@link TorchReadOptions} raises the caps).
 * @module
 */
import { PY_STATE, type PyCallable, unpickle } from "./unpickle.ts";
import type { StateDict, WeightDType } from "../../model/state_dict.ts";
import { DTYPE_SIZE, toFloat32 } from "./dtype.ts";
import { WeightsFormatError } from "./errors.ts";
import { DEFAULT_MAX_INFLATE_RATIO, ZipArchive } from "./torch_zip.ts";
import { checkView, materialiseView } from "./torch_view.ts";

/** Options of {@link readTorchZip}. */
export interface TorchReadOptions {
  /** Cap on a deflated entry's inflated ÷ compressed size (default {@link DEFAULT_MAX_INFLATE_RATIO}). */
  maxInflateRatio?: number;
  /** Cap on the size of the `data.pkl` pickle in bytes (default {@link DEFAULT_MAX_PICKLE_BYTES}). */
  maxPickleBytes?: number;
}

/**
 * Default cap on `data.pkl`'s size: 64 MiB. A state_dict's pickle holds only names and tensor metadata
 * (a ResNet-50 Mask R-CNN's is ~30 KB), so this only stops bombs.
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_PICKLE_BYTES } from "./torch_file.ts";
 * console.log(DEFAULT_MAX_PICKLE_BYTES); // 67108864
 * ```
 */
export const DEFAULT_MAX_PICKLE_BYTES = 64 * 1024 * 1024;

/** torch storage class names and their element types. */
const STORAGE_DTYPES: Record<string, WeightDType> = {
  FloatStorage: "F32",
  HalfStorage: "F16",
  BFloat16Storage: "BF16",
  DoubleStorage: "F64",
  LongStorage: "I64",
  IntStorage: "I32",
  ShortStorage: "I16",
  CharStorage: "I8",
  ByteStorage: "U8",
  BoolStorage: "BOOL",
};

/** `torch.save`'s legacy-format magic number (`torch/serialization.py: MAGIC_NUMBER`). */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

class StorageType implements PyCallable {
  constructor(readonly file: string, readonly qualifiedName: string, readonly dtype: WeightDType) {}
  call(): never {
    throw new WeightsFormatError(this.file, `${this.qualifiedName} cannot be called in a checkpoint`);
  }
}

class StorageRef {
  constructor(
    readonly dtype: WeightDType,
    readonly key: string,
    /** Elements of the (root) storage. */
    readonly numel: number,
    /** Element offset into the root storage (legacy views). */
    readonly viewOffset: number,
  ) {}
}

class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

function fn(qualifiedName: string, call: (args: unknown[]) => unknown): PyCallable {
  return { qualifiedName, call };
}

function rebuildTensor(file: string, name: string) {
  return fn(`torch._utils.${name}`, ([storage, offset, shape, stride]) => {
    // signs and bounds are checked per tensor (with its name) by checkView before anything is read
    const int = (d: unknown) => Number.isSafeInteger(d);
    const ints = (x: unknown) => Array.isArray(x) && x.length <= 64 && x.every(int);
    if (!(storage instanceof StorageRef) || !int(offset) || !ints(shape) || !ints(stride)) {
      throw new WeightsFormatError(
        file,
        `${name} called with malformed arguments (a storage, an integer offset, shape and stride)`,
      );
    }
    return new TensorRef(storage as StorageRef, offset as number, shape as number[], stride as number[]);
  });
}

/** The allow-list: the only globals a checkpoint may reference. */
function findGlobal(file: string) {
  return (module: string, name: string): PyCallable | undefined => {
    const q = `${module}.${name}`;
    if (q === "collections.OrderedDict") {
      return fn(q, ([items]) => {
        if (items === undefined) return new Map();
        if (!Array.isArray(items) || !items.every((i) => Array.isArray(i) && i.length === 2)) {
          throw new WeightsFormatError(file, `${q} called with something other than a list of pairs`);
        }
        return new Map(items as [unknown, unknown][]);
      });
    }
    if (q === "torch._utils._rebuild_tensor_v2" || q === "torch._utils._rebuild_tensor") {
      return rebuildTensor(file, name);
    }
    if (q === "torch._utils._rebuild_parameter" || q === "torch._utils._rebuild_parameter_with_state") {
      return fn(q, ([data]) => data);
    }
    if (module === "torch" && Object.hasOwn(STORAGE_DTYPES, name)) {
      return new StorageType(file, q, STORAGE_DTYPES[name]);
    }
    return undefined;
  };
}

function storageRef(
  file: string,
  pid: unknown,
  legacy: boolean,
  seen: Map<string, StorageRef>,
): StorageRef {
  const bad = (why: string) => new WeightsFormatError(file, `malformed persistent id: ${why}`);
  const isCount = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
  if (!Array.isArray(pid) || pid[0] !== "storage" || !(pid[1] instanceof StorageType)) {
    throw bad("not a ('storage', type, key, location, size) tuple");
  }
  const [, type, key, , count, view] = pid as [string, StorageType, unknown, unknown, unknown, unknown];
  if (typeof key !== "string") throw bad("the storage key is not a string");
  if (!isCount(count)) throw bad(`storage ${key} has the invalid size ${String(count)}`);
  let viewOffset = 0;
  if (legacy && view !== null && view !== undefined) {
    const [, offset, size] = Array.isArray(view) ? view : [];
    if (!isCount(offset) || !isCount(size) || offset + size > count) {
      throw bad(`storage ${key}: view (offset, size) outside the storage of ${count} elements`);
    }
    viewOffset = offset;
  }
  const before = seen.get(key);
  if (before && (before.dtype !== type.dtype || before.numel !== count)) {
    throw bad(
      `storage ${key} is declared as ${before.dtype}[${before.numel}] and as ${type.dtype}[${count}]`,
    );
  }
  if (!before) seen.set(key, new StorageRef(type.dtype, key, count, 0));
  return new StorageRef(type.dtype, key, count, viewOffset);
}

/** Finds the tensors of a loaded object: a state_dict, or a training checkpoint's `model` / `state_dict`. */
function tensorEntries(file: string, root: unknown, depth = 0): Map<string, TensorRef> {
  if (!(root instanceof Map)) throw new WeightsFormatError(file, "the checkpoint is not a dict of tensors");
  for (const key of ["model", "state_dict"]) {
    const inner = root.get(key);
    if (inner instanceof Map) {
      // a checkpoint nests its state_dict one or two levels deep; a self-referencing dict would not end
      if (depth >= 3 || inner === root) {
        throw new WeightsFormatError(file, `"${key}" entries nested too deep or referencing themselves`);
      }
      return tensorEntries(file, inner, depth + 1);
    }
  }
  for (const [name, value] of root) {
    if (typeof name !== "string") {
      throw new WeightsFormatError(file, `state_dict key ${typeof name} is not a string`);
    }
    if (!(value instanceof TensorRef)) {
      throw new WeightsFormatError(file, `state_dict entry ${name} is not a tensor (${typeof value})`);
    }
  }
  delete (root as unknown as Record<symbol, unknown>)[PY_STATE];
  return root as Map<string, TensorRef>;
}

/** Checks every tensor's view against its storage's declared size, before any storage is read. */
function checkViews(file: string, refs: Map<string, TensorRef>): void {
  for (const [name, t] of refs) {
    const view = { offset: t.offset + t.storage.viewOffset, shape: t.shape, stride: t.stride };
    checkView(file, name, view, t.storage.numel);
  }
}

function collect(
  file: string,
  refs: Map<string, TensorRef>,
  bytesOf: (key: string) => Uint8Array,
): StateDict {
  const cache = new Map<string, Float32Array>();
  const out: StateDict = new Map();
  for (const [name, t] of refs) {
    const s = t.storage;
    let values = cache.get(s.key);
    if (!values) {
      const bytes = bytesOf(s.key);
      const need = s.numel * DTYPE_SIZE[s.dtype];
      if (bytes.length < need) {
        throw new WeightsFormatError(
          file,
          `storage ${s.key} of tensor ${name} has ${bytes.length} bytes, needs ${need}`,
        );
      }
      values = toFloat32(bytes, s.dtype, s.numel);
      cache.set(s.key, values);
    }
    const view = { offset: t.offset + s.viewOffset, shape: t.shape, stride: t.stride };
    out.set(name, { shape: [...t.shape], data: materialiseView(values, view), dtype: s.dtype });
  }
  return out;
}

/**
 * Reads a zip-format `torch.save` checkpoint into tensors under their stored names. Every view and zip
 * entry size is checked against the storages the pickle declares before a storage is inflated; `options`
 * raises the caps on compression ratio and pickle size.
 *
 * @example
 * ```ts
 * import { readTorchZip } from "./torch_file.ts";
 * const sd = await readTorchZip(await Deno.readFile("tests/fixtures/model/small_subset.pth"), "small_subset.pth");
 * console.log(sd.get("rpn.head.conv.0.0.weight")?.shape); // [64, 64, 3, 3]
 * ```
 */
export async function readTorchZip(
  bytes: Uint8Array,
  file = "<bytes>",
  options: TorchReadOptions = {},
): Promise<StateDict> {
  const zip = ZipArchive.open(bytes, file);
  const maxInflateRatio = options.maxInflateRatio ?? DEFAULT_MAX_INFLATE_RATIO;
  const howToRaise = "if the file is genuine, raise the limit with loadStateDict's maxInflateRatio option";
  const pkl = [...zip.entries.keys()].find((n) => n === "data.pkl" || n.endsWith("/data.pkl"));
  if (!pkl) throw new WeightsFormatError(file, "zip has no data.pkl: not a torch.save checkpoint");
  const prefix = pkl.slice(0, pkl.length - "data.pkl".length);
  const order = zip.entries.get(`${prefix}byteorder`);
  if (
    order &&
    new TextDecoder().decode(await zip.read(`${prefix}byteorder`, { maxSize: 16 })).trim() !== "little"
  ) {
    throw new WeightsFormatError(file, "big-endian checkpoints are not supported");
  }
  const maxPickleBytes = options.maxPickleBytes ?? DEFAULT_MAX_PICKLE_BYTES;
  const pickle = await zip.read(pkl, {
    maxSize: maxPickleBytes,
    maxInflateRatio,
    howToRaise: "if the file is genuine, raise the limit with loadStateDict's maxPickleBytes option",
  });
  const declared = new Map<string, StorageRef>();
  const { value } = unpickle(pickle, {
    file,
    findGlobal: findGlobal(file),
    persistentLoad: (pid) => storageRef(file, pid, false, declared),
  });
  const refs = tensorEntries(file, value);
  checkViews(file, refs);
  const storages = new Map<string, Uint8Array>();
  for (const t of refs.values()) {
    const { key, numel, dtype } = t.storage;
    if (storages.has(key)) continue;
    const size = numel * DTYPE_SIZE[dtype];
    const entry = zip.entries.get(`${prefix}data/${key}`);
    if (entry && entry.size !== size) {
      throw new WeightsFormatError(
        file,
        `zip entry ${entry.name} holds ${entry.size} bytes, but its storage is declared as ${dtype}[${numel}] ` +
          `(${size} bytes); refusing to inflate it`,
      );
    }
    storages.set(key, await zip.read(`${prefix}data/${key}`, { maxSize: size, maxInflateRatio, howToRaise }));
  }
  return collect(file, refs, (key) => storages.get(key)!);
}

/**
 * Whether `bytes` looks like a legacy (pre-1.6, non-zip) `torch.save` stream: a protocol-2 pickle of the
 * LONG1 magic number.
 *
 * @example
 * ```ts
 * import { isLegacyTorch } from "./torch_file.ts";
 * console.log(isLegacyTorch(new Uint8Array([0x80, 2, 0x8a, 10]))); // true
 * ```
 */
export function isLegacyTorch(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x80 && bytes[1] === 2 && bytes[2] === 0x8a && bytes[3] === 10;
}

/**
 * Reads a legacy-format (torch < 1.6, or `_use_new_zipfile_serialization=False`) checkpoint.
 *
 * @example
 * ```ts
 * import { readTorchLegacy } from "./torch_file.ts";
 * const sd = readTorchLegacy(await Deno.readFile("tests/fixtures/model/small_legacy.pth"), "small_legacy.pth");
 * console.log(sd.size > 0); // true
 * ```
 */
export function readTorchLegacy(bytes: Uint8Array, file = "<bytes>"): StateDict {
  const base = { file, findGlobal: findGlobal(file) };
  const magic = unpickle(bytes, base);
  if (magic.value !== LEGACY_MAGIC) throw new WeightsFormatError(file, "bad legacy torch magic number");
  const protocol = unpickle(bytes, { ...base, offset: magic.end });
  if (protocol.value !== 1001) {
    throw new WeightsFormatError(file, `unsupported legacy torch protocol ${String(protocol.value)}`);
  }
  const sysInfo = unpickle(bytes, { ...base, offset: protocol.end });
  if (sysInfo.value instanceof Map && sysInfo.value.get("little_endian") === false) {
    throw new WeightsFormatError(file, "big-endian checkpoints are not supported");
  }
  const declared = new Map<string, StorageRef>();
  const persistentLoad = (pid: unknown) => storageRef(file, pid, true, declared);
  const main = unpickle(bytes, { ...base, offset: sysInfo.end, persistentLoad });
  const refs = tensorEntries(file, main.value);
  checkViews(file, refs);
  const keys = unpickle(bytes, { ...base, offset: main.end });
  if (!Array.isArray(keys.value)) throw new WeightsFormatError(file, "legacy storage-key list missing");
  const storages = new Map<string, Uint8Array>();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = keys.end;
  for (const key of keys.value as unknown[]) {
    if (typeof key !== "string") throw new WeightsFormatError(file, "legacy storage key is not a string");
    if (p + 8 > bytes.length) {
      throw new WeightsFormatError(file, `storage ${key} is missing (truncated file)`);
    }
    const count = view.getBigInt64(p, true);
    const ref = declared.get(key);
    if (!ref) throw new WeightsFormatError(file, `storage ${key} is listed but never referenced`);
    if (count !== BigInt(ref.numel)) {
      throw new WeightsFormatError(
        file,
        `storage ${key} holds ${count} elements, but the pickle declares ${ref.numel}`,
      );
    }
    const size = ref.numel * DTYPE_SIZE[ref.dtype];
    if (p + 8 + size > bytes.length) {
      throw new WeightsFormatError(
        file,
        `storage ${key} needs ${size} bytes, ${bytes.length - p - 8} left (truncated)`,
      );
    }
    storages.set(key, bytes.subarray(p + 8, p + 8 + size));
    p += 8 + size;
  }
  return collect(file, refs, (key) => {
    const s = storages.get(key);
    if (!s) throw new WeightsFormatError(file, `storage ${key} is not in the file`);
    return s;
  });
}
