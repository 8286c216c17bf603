/**
 * A safe, data-only pickle reader (protocols 2–5, the subset `torch.save` writes). It never imports or
 * runs anything: a GLOBAL / STACK_GLOBAL is resolved by the caller's {@link UnpickleOptions.findGlobal}
 * (an allow-list of JS stand-ins) and any other global stops loading with {@link ForbiddenGlobalError}.
 * Python dicts become `Map`s, lists and tuples arrays, ints numbers (or bigints beyond 2^53).
 *
 * Hostile input: every length is checked against the file before it is read, the MARK nesting depth and
 * integer widths are capped ({@link PICKLE_LIMITS}), and nothing recurses, so a self-referencing container
 * or a million-item APPENDS cannot overflow the call stack; every failure is a {@link WeightsFormatError}
 * naming the file and the byte offset.
 * @module
 */
import { ForbiddenGlobalError, WeightsFormatError } from "./errors.ts";

/** A JS stand-in for an allowed Python callable: REDUCE / NEWOBJ call it with the argument tuple. */
export interface PyCallable {
  /** `module.name`, for messages. */
  readonly qualifiedName: string;
  /** Builds the object from the unpickled arguments. */
  call(args: unknown[]): unknown;
}

/** Options of {@link unpickle}. */
export interface UnpickleOptions {
  /** Names the file in errors. */
  file: string;
  /** Returns the stand-in for `module.name`, or `undefined` to refuse it (→ ForbiddenGlobalError). */
  findGlobal(module: string, name: string): PyCallable | undefined;
  /** Resolves a BINPERSID persistent id (torch storages); without it persistent ids are an error. */
  persistentLoad?(pid: unknown): unknown;
  /** Byte offset to start at (for files holding several pickles back to back). */
  offset?: number;
}

/**
 * Caps of the unpickler. A `torch.save` state_dict pickle nests a few MARKs deep and holds ints of at
 * most 8 bytes; these bounds are far above that and keep hostile input from costing quadratic time.
 *
 * @example
 * ```ts
 * import { PICKLE_LIMITS } from "./unpickle.ts";
 * console.log(PICKLE_LIMITS.maxMarkDepth); // 1000
 * ```
 */
export const PICKLE_LIMITS: { readonly maxMarkDepth: number; readonly maxLongBytes: number } = {
  maxMarkDepth: 1000,
  maxLongBytes: 64,
};

/**
 * Key under which BUILD attaches its state (e.g. a torch state_dict's `{_metadata: ...}`) to the object.
 *
 * @example
 * ```ts
 * import { PY_STATE } from "./unpickle.ts";
 * const obj: Record<symbol, unknown> = {};
 * console.log(obj[PY_STATE]); // undefined until a pickle BUILDs it
 * ```
 */
export const PY_STATE: unique symbol = Symbol("pyState");

/**
 * Unpickles one object from `bytes` starting at `options.offset`; returns it with the offset after STOP.
 *
 * @example A dict {"a": 1} pickled with protocol 2
 * ```ts
 * import { unpickle } from "./unpickle.ts";
 * const bytes = new Uint8Array([0x80, 2, 0x7d, 0x71, 0, 0x58, 1, 0, 0, 0, 0x61, 0x4b, 1, 0x73, 0x2e]);
 * const { value } = unpickle(bytes, { file: "<bytes>", findGlobal: () => undefined });
 * console.log(value); // Map(1) { "a" => 1 }
 * ```
 */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions): { value: unknown; end: number } {
  const { file } = options;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let p = options.offset ?? 0;
  const fail = (detail: string): never => {
    throw new WeightsFormatError(file, `pickle at byte ${p}: ${detail}`);
  };
  const need = (n: number) => {
    if (p + n > bytes.length) fail(`truncated (needs ${n} more bytes, ${bytes.length - p} left)`);
  };
  const u8 = () => (need(1), bytes[p++]);
  const u16 = () => (need(2), p += 2, v.getUint16(p - 2, true));
  const u32 = () => (need(4), p += 4, v.getUint32(p - 4, true));
  const u64 = () => {
    need(8);
    p += 8;
    const n = v.getBigUint64(p - 8, true);
    return n > BigInt(bytes.length) ? fail(`length ${n} exceeds the file`) : Number(n);
  };
  const take = (n: number) => (need(n), p += n, bytes.subarray(p - n, p));
  const utf8 = new TextDecoder("utf-8", { fatal: false });
  const latin1 = new TextDecoder("latin1");
  const line = () => {
    const end = bytes.indexOf(0x0a, p);
    if (end < 0) fail("truncated (unterminated GLOBAL name)");
    const s = utf8.decode(bytes.subarray(p, end));
    p = end + 1;
    return s;
  };
  const pop = () => (stack.length ? stack.pop() : fail("stack underflow"));
  const popMark = () => {
    const m = marks.pop();
    if (m === undefined) fail("no MARK on the stack");
    return stack.splice(m!);
  };
  const top = () => (stack.length ? stack[stack.length - 1] : fail("stack underflow"));
  const resolve = (module: string, name: string): PyCallable => {
    const found = options.findGlobal(module, name);
    if (!found) throw new ForbiddenGlobalError(file, `${module}.${name}`);
    return found;
  };
  const call = (fn: unknown, args: unknown) => {
    if (!fn || typeof (fn as PyCallable).call !== "function") fail("REDUCE/NEWOBJ of a non-callable");
    if (!Array.isArray(args)) fail(`${(fn as PyCallable).qualifiedName} called without an argument tuple`);
    return (fn as PyCallable).call(args as unknown[]);
  };
  const long = (data: Uint8Array): number | bigint => {
    if (data.length > PICKLE_LIMITS.maxLongBytes) {
      fail(`integer of ${data.length} bytes exceeds the limit of ${PICKLE_LIMITS.maxLongBytes}`);
    }
    let n = 0n;
    for (let i = data.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(data[i]);
    if (data.length && data[data.length - 1] & 0x80) n -= 1n << BigInt(8 * data.length);
    return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
  };
  const setItems = (target: unknown, items: unknown[]) => {
    if (!(target instanceof Map)) fail("SETITEM(S) on a non-dict");
    for (let i = 0; i + 1 < items.length; i += 2) {
      (target as Map<unknown, unknown>).set(items[i], items[i + 1]);
    }
  };
  const append = (target: unknown, items: unknown[]) => {
    if (!Array.isArray(target)) fail("APPEND(S) on a non-list");
    for (const item of items) (target as unknown[]).push(item); // no spread: a 1M-item APPENDS is fine
  };

  for (;;) {
    const at = p;
    const op = u8();
    switch (op) {
      case 0x80:
        u8();
        break; // PROTO
      case 0x95:
        u64();
        break; // FRAME (a length hint)
      case 0x2e: // STOP
        if (stack.length !== 1) fail(`STOP with ${stack.length} objects on the stack`);
        return { value: stack[0], end: p };
      case 0x28:
        if (marks.length >= PICKLE_LIMITS.maxMarkDepth) {
          fail(`MARKs nested deeper than the limit of ${PICKLE_LIMITS.maxMarkDepth}`);
        }
        marks.push(stack.length);
        break; // MARK
      case 0x7d:
        stack.push(new Map());
        break; // EMPTY_DICT
      case 0x5d:
        stack.push([]);
        break; // EMPTY_LIST
      case 0x29:
        stack.push([]);
        break; // EMPTY_TUPLE
      case 0x74:
        stack.push(popMark());
        break; // TUPLE
      case 0x6c:
        stack.push(popMark());
        break; // LIST
      case 0x64: { // DICT
        const m = new Map();
        setItems(m, popMark());
        stack.push(m);
        break;
      }
      case 0x85:
        stack.push([pop()]);
        break; // TUPLE1
      case 0x86: {
        const b = pop();
        stack.push([pop(), b]);
        break;
      } // TUPLE2
      case 0x87: {
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      } // TUPLE3
      case 0x58:
        stack.push(utf8.decode(take(u32())));
        break; // BINUNICODE
      case 0x8c:
        stack.push(utf8.decode(take(u8())));
        break; // SHORT_BINUNICODE
      case 0x8d:
        stack.push(utf8.decode(take(u64())));
        break; // BINUNICODE8
      case 0x54:
        stack.push(latin1.decode(take(u32())));
        break; // BINSTRING
      case 0x55:
        stack.push(latin1.decode(take(u8())));
        break; // SHORT_BINSTRING
      case 0x42:
        stack.push(take(u32()).slice());
        break; // BINBYTES
      case 0x43:
        stack.push(take(u8()).slice());
        break; // SHORT_BINBYTES
      case 0x8e:
        stack.push(take(u64()).slice());
        break; // BINBYTES8
      case 0x71:
        memo.set(u8(), top());
        break; // BINPUT
      case 0x72:
        memo.set(u32(), top());
        break; // LONG_BINPUT
      case 0x94:
        memo.set(memo.size, top());
        break; // MEMOIZE
      case 0x68:
      case 0x6a: { // BINGET, LONG_BINGET
        const key = op === 0x68 ? u8() : u32();
        if (!memo.has(key)) fail(`memo key ${key} was never stored`);
        stack.push(memo.get(key));
        break;
      }
      case 0x4a:
        need(4);
        p += 4;
        stack.push(v.getInt32(p - 4, true));
        break; // BININT
      case 0x4b:
        stack.push(u8());
        break; // BININT1
      case 0x4d:
        stack.push(u16());
        break; // BININT2
      case 0x8a:
        stack.push(long(take(u8())));
        break; // LONG1
      case 0x8b:
        stack.push(long(take(u32())));
        break; // LONG4
      case 0x47:
        need(8);
        p += 8;
        stack.push(v.getFloat64(p - 8, false));
        break; // BINFLOAT (big-endian)
      case 0x88:
        stack.push(true);
        break; // NEWTRUE
      case 0x89:
        stack.push(false);
        break; // NEWFALSE
      case 0x4e:
        stack.push(null);
        break; // NONE
      case 0x73: {
        const value = pop();
        const key = pop();
        setItems(top(), [key, value]);
        break;
      } // SETITEM
      case 0x75: {
        const items = popMark();
        setItems(top(), items);
        break;
      } // SETITEMS
      case 0x61: {
        const item = pop();
        append(top(), [item]);
        break;
      } // APPEND
      case 0x65: {
        const items = popMark();
        append(top(), items);
        break;
      } // APPENDS
      case 0x30:
        pop();
        break; // POP
      case 0x31:
        popMark();
        break; // POP_MARK
      case 0x32:
        stack.push(top());
        break; // DUP
      case 0x63: {
        const module = line();
        stack.push(resolve(module, line()));
        break;
      } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== "string" || typeof name !== "string") fail("STACK_GLOBAL without strings");
        stack.push(resolve(module as string, name as string));
        break;
      }
      case 0x52: {
        const args = pop();
        stack.push(call(pop(), args));
        break;
      } // REDUCE
      case 0x81: {
        const args = pop();
        stack.push(call(pop(), args));
        break;
      } // NEWOBJ
      case 0x62: { // BUILD
        const state = pop();
        const obj = top();
        if (typeof obj !== "object" || obj === null) fail("BUILD on a non-object");
        (obj as Record<symbol, unknown>)[PY_STATE] = state;
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        if (!options.persistentLoad) fail("persistent id without a persistent_load");
        stack.push(options.persistentLoad!(pid));
        break;
      }
      default:
        p = at;
        fail(`unsupported pickle opcode 0x${op.toString(16).padStart(2, "0")}`);
    }
  }
}
