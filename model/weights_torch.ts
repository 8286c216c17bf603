/**
 * Reads `torch.save` checkpoints without Python: the zip format of torch ≥ 1.6 (`<prefix>/data.pkl` plus
 * raw storages `<prefix>/data/<key>`) and the legacy stream format of older releases (magic-number pickle,
 * sys-info, the object pickle, the storage-key list, then each storage's bytes). The pickle is read by the
 * data-only {@link unpickle} with an allow-list of tensor-rebuilding globals; storage offset, shape and
 * stride are honoured, so non-contiguous views come out contiguous.
 * @module
 */
import { PY_STATE, type PyCallable, unpickle } from "./unpickle.ts";
import { DTYPE_SIZE, numel, type StateDict, toFloat32, type WeightDType } from "./weights_dtype.ts";
import { WeightsFormatError } from "./weights_errors.ts";
import { ZipArchive } from "./torch_zip.ts";

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
  constructor(readonly qualifiedName: string, readonly dtype: WeightDType) {}
  call(): never {
    throw new Error(`${this.qualifiedName} cannot be called in a checkpoint`);
  }
}

interface StorageRef {
  dtype: WeightDType;
  key: string;
  numel: number;
  /** Element offset into the root storage (legacy views). */
  viewOffset: number;
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
    const ints = (x: unknown) => Array.isArray(x) && x.every((d) => Number.isSafeInteger(d) && d >= 0);
    if (
      !(storage instanceof Object && "key" in storage) || !Number.isSafeInteger(offset) || !ints(shape) ||
      !ints(stride)
    ) {
      throw new WeightsFormatError(file, `${name} called with malformed arguments`);
    }
    return new TensorRef(storage as StorageRef, offset as number, shape as number[], stride as number[]);
  });
}

/** The allow-list: the only globals a checkpoint may reference. */
function findGlobal(file: string) {
  return (module: string, name: string): PyCallable | undefined => {
    const q = `${module}.${name}`;
    if (q === "collections.OrderedDict") {
      return fn(q, ([items]) => new Map(Array.isArray(items) ? items as [unknown, unknown][] : []));
    }
    if (q === "torch._utils._rebuild_tensor_v2" || q === "torch._utils._rebuild_tensor") {
      return rebuildTensor(file, name);
    }
    if (q === "torch._utils._rebuild_parameter" || q === "torch._utils._rebuild_parameter_with_state") {
      return fn(q, ([data]) => data);
    }
    if (module === "torch" && Object.hasOwn(STORAGE_DTYPES, name)) {
      return new StorageType(q, STORAGE_DTYPES[name]);
    }
    return undefined;
  };
}

function storageRef(
  file: string,
  pid: unknown,
  legacy: boolean,
  seen?: Map<string, WeightDType>,
): StorageRef {
  const bad = () => new WeightsFormatError(file, `malformed persistent id ${String(pid)}`);
  if (!Array.isArray(pid) || pid[0] !== "storage" || !(pid[1] instanceof StorageType)) throw bad();
  const [, type, key, , count, view] = pid as [string, StorageType, unknown, unknown, unknown, unknown];
  if (typeof key !== "string" || !Number.isSafeInteger(count)) throw bad();
  let viewOffset = 0;
  if (legacy && Array.isArray(view)) viewOffset = Number(view[1]);
  seen?.set(key, type.dtype);
  return { dtype: type.dtype, key, numel: count as number, viewOffset };
}

/** Finds the tensors of a loaded object: a state_dict, or a training checkpoint's `model` / `state_dict`. */
function tensorEntries(file: string, root: unknown): Map<string, TensorRef> {
  if (!(root instanceof Map)) throw new WeightsFormatError(file, "the checkpoint is not a dict of tensors");
  for (const key of ["model", "state_dict"]) {
    if (root.get(key) instanceof Map) return tensorEntries(file, root.get(key));
  }
  for (const [name, value] of root) {
    if (typeof name !== "string") {
      throw new WeightsFormatError(file, `state_dict key ${String(name)} is not a string`);
    }
    if (!(value instanceof TensorRef)) {
      throw new WeightsFormatError(file, `state_dict entry ${name} is not a tensor (${typeof value})`);
    }
  }
  delete (root as unknown as Record<symbol, unknown>)[PY_STATE];
  return root as Map<string, TensorRef>;
}

/** Copies the (possibly strided) view of a tensor out of its storage's f32 values. */
function materialise(file: string, name: string, t: TensorRef, storage: Float32Array): Float32Array {
  const n = numel(t.shape);
  const base = t.offset + t.storage.viewOffset;
  if (t.shape.length !== t.stride.length) {
    throw new WeightsFormatError(
      file,
      `tensor ${name}: shape [${t.shape}] and stride [${t.stride}] differ in rank`,
    );
  }
  const last = t.shape.reduce((s, d, i) => s + (d - 1) * t.stride[i], base);
  if (n > 0 && last >= storage.length) {
    throw new WeightsFormatError(
      file,
      `tensor ${name}: view (offset ${base}, shape [${t.shape}], stride [${t.stride}]) exceeds its storage of ${storage.length}`,
    );
  }
  let contiguous = true;
  for (let i = t.shape.length - 1, expect = 1; i >= 0; i--) {
    if (t.shape[i] !== 1 && t.stride[i] !== expect) contiguous = false;
    expect *= t.shape[i];
  }
  if (contiguous) return storage.slice(base, base + n);
  const out = new Float32Array(n);
  const rank = t.shape.length;
  const index = new Array<number>(rank).fill(0);
  let src = base;
  for (let i = 0; i < n; i++) {
    out[i] = storage[src];
    for (let d = rank - 1; d >= 0; d--) { // odometer increment of the multi-index
      if (++index[d] < t.shape[d]) {
        src += t.stride[d];
        break;
      }
      src -= (t.shape[d] - 1) * t.stride[d];
      index[d] = 0;
    }
  }
  return out;
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
    out.set(name, { shape: [...t.shape], data: materialise(file, name, t, values), dtype: s.dtype });
  }
  return out;
}

/**
 * Reads a zip-format `torch.save` checkpoint into tensors under their stored names.
 *
 * @example
 * ```ts
 * import { readTorchZip } from "./weights_torch.ts";
 * const sd = await readTorchZip(await Deno.readFile("tests/fixtures/model/small_subset.pth"), "small_subset.pth");
 * console.log(sd.get("rpn.head.conv.0.0.weight")?.shape); // [64, 64, 3, 3]
 * ```
 */
export async function readTorchZip(bytes: Uint8Array, file = "<bytes>"): Promise<StateDict> {
  const zip = ZipArchive.open(bytes, file);
  const pkl = [...zip.entries.keys()].find((n) => n === "data.pkl" || n.endsWith("/data.pkl"));
  if (!pkl) throw new WeightsFormatError(file, "zip has no data.pkl: not a torch.save checkpoint");
  const prefix = pkl.slice(0, pkl.length - "data.pkl".length);
  const order = zip.entries.get(`${prefix}byteorder`);
  if (order && new TextDecoder().decode(await zip.read(`${prefix}byteorder`)).trim() !== "little") {
    throw new WeightsFormatError(file, "big-endian checkpoints are not supported");
  }
  const { value } = unpickle(await zip.read(pkl), {
    file,
    findGlobal: findGlobal(file),
    persistentLoad: (pid) => storageRef(file, pid, false),
  });
  const refs = tensorEntries(file, value);
  const storages = new Map<string, Uint8Array>();
  for (const t of refs.values()) {
    const key = t.storage.key;
    if (!storages.has(key)) storages.set(key, await zip.read(`${prefix}data/${key}`));
  }
  return collect(file, refs, (key) => storages.get(key)!);
}

/**
 * Whether `bytes` looks like a legacy (pre-1.6, non-zip) `torch.save` stream: a protocol-2 pickle of the
 * LONG1 magic number.
 *
 * @example
 * ```ts
 * import { isLegacyTorch } from "./weights_torch.ts";
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
 * import { readTorchLegacy } from "./weights_torch.ts";
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
  const dtypes = new Map<string, WeightDType>();
  const persistentLoad = (pid: unknown) => storageRef(file, pid, true, dtypes);
  const main = unpickle(bytes, { ...base, offset: sysInfo.end, persistentLoad });
  const refs = tensorEntries(file, main.value);
  const keys = unpickle(bytes, { ...base, offset: main.end });
  if (!Array.isArray(keys.value)) throw new WeightsFormatError(file, "legacy storage-key list missing");
  const storages = new Map<string, Uint8Array>();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = keys.end;
  for (const key of keys.value as string[]) {
    if (p + 8 > bytes.length) {
      throw new WeightsFormatError(file, `storage ${key} is missing (truncated file)`);
    }
    const count = Number(view.getBigInt64(p, true));
    const dtype = dtypes.get(key);
    if (!dtype) throw new WeightsFormatError(file, `storage ${key} is listed but never referenced`);
    const size = count * DTYPE_SIZE[dtype];
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
