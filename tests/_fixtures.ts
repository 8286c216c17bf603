/**
 * Loads the JSON fixtures written by `tools/reference/fixture_io.py`: named tensors stored as base64 of
 * little-endian bytes with their shape and dtype, plus free-form metadata.
 * @module
 */

/** One tensor of a fixture file. */
export interface FixtureTensor {
  shape: number[];
  dtype: "f32" | "f64" | "i32" | "i64" | "u8";
  data: Float32Array | Float64Array | Int32Array | Uint8Array;
}

/** A decoded fixture file. */
export interface Fixture {
  tensors: Record<string, FixtureTensor>;
  meta: Record<string, unknown>;
}

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Reads `tests/fixtures/<relativePath>` (i64 tensors are narrowed to i32, checking range). */
export function loadFixture(relativePath: string): Fixture {
  const url = new URL(`./fixtures/${relativePath}`, import.meta.url);
  const raw = JSON.parse(Deno.readTextFileSync(url));
  const tensors: Record<string, FixtureTensor> = {};
  for (
    const [name, t] of Object.entries(
      raw.tensors as Record<string, { shape: number[]; dtype: string; b64: string }>,
    )
  ) {
    const bytes = decodeBase64(t.b64);
    let data: FixtureTensor["data"];
    switch (t.dtype) {
      case "f32":
        data = new Float32Array(bytes.buffer);
        break;
      case "f64":
        data = new Float64Array(bytes.buffer);
        break;
      case "i32":
        data = new Int32Array(bytes.buffer);
        break;
      case "i64": {
        const wide = new BigInt64Array(bytes.buffer);
        data = new Int32Array(wide.length);
        for (let i = 0; i < wide.length; i++) {
          if (wide[i] > 2147483647n || wide[i] < -2147483648n) {
            throw new Error(`${relativePath}:${name} exceeds i32`);
          }
          data[i] = Number(wide[i]);
        }
        break;
      }
      case "u8":
        data = bytes;
        break;
      default:
        throw new Error(`${relativePath}: tensor ${name} has unknown dtype ${t.dtype}`);
    }
    tensors[name] = { shape: t.shape, dtype: t.dtype as FixtureTensor["dtype"], data };
  }
  return { tensors, meta: raw.meta ?? {} };
}
