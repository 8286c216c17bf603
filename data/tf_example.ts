/**
 * `tf.train.Example` protobuf decoding and encoding: Example → Features → map<string, Feature>, where a
 * Feature holds a BytesList, FloatList or Int64List (packed or unpacked repeated fields).
 * @module
 */

import { ProtoReader, ProtoWriter, WireType } from "./protobuf.ts";

/** One feature value of a `tf.train.Example`. */
export type Feature =
  | { kind: "bytes"; value: Uint8Array[] }
  | { kind: "float"; value: Float32Array }
  | { kind: "int64"; value: number[] }
  | { kind: "none" };

/** The feature map of a `tf.train.Example`. */
export type Example = Map<string, Feature>;

/**
 * Decodes a serialized `tf.train.Example`. Throws `RangeError` on malformed bytes.
 * @example
 * ```ts
 * const bytes = encodeExample(new Map([["image/height", int64Feature([4])]]));
 * decodeExample(bytes).get("image/height"); // { kind: "int64", value: [4] }
 * ```
 */
export function decodeExample(bytes: Uint8Array): Example {
  const example: Example = new Map();
  const r = new ProtoReader(bytes);
  while (!r.done) {
    const { field, wireType } = r.tag();
    if (field === 1 && wireType === WireType.lengthDelimited) decodeFeatures(r.bytesField(), example);
    else r.skip(wireType);
  }
  return example;
}

function decodeFeatures(bytes: Uint8Array, out: Example): void {
  const r = new ProtoReader(bytes);
  while (!r.done) {
    const { field, wireType } = r.tag();
    if (field !== 1 || wireType !== WireType.lengthDelimited) {
      r.skip(wireType);
      continue;
    }
    const entry = new ProtoReader(r.bytesField());
    let key = "";
    let feature: Feature = { kind: "none" };
    while (!entry.done) {
      const t = entry.tag();
      if (t.field === 1 && t.wireType === WireType.lengthDelimited) {
        key = new TextDecoder().decode(entry.bytesField());
      } else if (t.field === 2 && t.wireType === WireType.lengthDelimited) {
        feature = decodeFeature(entry.bytesField());
      } else entry.skip(t.wireType);
    }
    out.set(key, feature);
  }
}

function decodeFeature(bytes: Uint8Array): Feature {
  const r = new ProtoReader(bytes);
  let feature: Feature = { kind: "none" };
  while (!r.done) {
    const { field, wireType } = r.tag();
    if (wireType !== WireType.lengthDelimited || field < 1 || field > 3) {
      r.skip(wireType);
      continue;
    }
    const list = r.bytesField();
    if (field === 1) feature = { kind: "bytes", value: decodeBytesList(list) };
    else if (field === 2) feature = { kind: "float", value: decodeFloatList(list) };
    else feature = { kind: "int64", value: decodeInt64List(list) };
  }
  return feature;
}

function decodeBytesList(bytes: Uint8Array): Uint8Array[] {
  const r = new ProtoReader(bytes);
  const values: Uint8Array[] = [];
  while (!r.done) {
    const { field, wireType } = r.tag();
    if (field === 1 && wireType === WireType.lengthDelimited) values.push(r.bytesField());
    else r.skip(wireType);
  }
  return values;
}

function decodeFloatList(bytes: Uint8Array): Float32Array {
  const r = new ProtoReader(bytes);
  const values: number[] = [];
  while (!r.done) {
    const { field, wireType } = r.tag();
    if (field !== 1) r.skip(wireType);
    else if (wireType === WireType.fixed32) values.push(r.float32());
    else if (wireType === WireType.lengthDelimited) {
      const packed = r.bytesField();
      if (packed.length % 4 !== 0) {
        throw new RangeError("protobuf: packed float list length not a multiple of 4");
      }
      const p = new ProtoReader(packed);
      while (!p.done) values.push(p.float32());
    } else r.skip(wireType);
  }
  return new Float32Array(values);
}

function decodeInt64List(bytes: Uint8Array): number[] {
  const r = new ProtoReader(bytes);
  const values: number[] = [];
  while (!r.done) {
    const { field, wireType } = r.tag();
    if (field !== 1) r.skip(wireType);
    else if (wireType === WireType.varint) values.push(r.int64());
    else if (wireType === WireType.lengthDelimited) {
      const p = new ProtoReader(r.bytesField());
      while (!p.done) values.push(p.int64());
    } else r.skip(wireType);
  }
  return values;
}

/**
 * Encodes a `tf.train.Example` with packed float and int64 lists (as TensorFlow writes them).
 * @example
 * ```ts
 * const bytes = encodeExample(new Map([["image/encoded", bytesFeature([new Uint8Array([1, 2])])]]));
 * ```
 */
export function encodeExample(example: Example): Uint8Array {
  const features = new ProtoWriter();
  for (const [key, feature] of example) {
    const entry = new ProtoWriter();
    entry.tag(1, WireType.lengthDelimited).bytes(new TextEncoder().encode(key));
    entry.tag(2, WireType.lengthDelimited).bytes(encodeFeature(feature));
    features.tag(1, WireType.lengthDelimited).bytes(entry.finish());
  }
  return new ProtoWriter().tag(1, WireType.lengthDelimited).bytes(features.finish()).finish();
}

function encodeFeature(feature: Feature): Uint8Array {
  const w = new ProtoWriter();
  if (feature.kind === "none") return w.finish();
  const list = new ProtoWriter();
  if (feature.kind === "bytes") {
    for (const v of feature.value) list.tag(1, WireType.lengthDelimited).bytes(v);
    w.tag(1, WireType.lengthDelimited).bytes(list.finish());
  } else if (feature.kind === "float") {
    const packed = new ProtoWriter();
    for (const v of feature.value) packed.float32(v);
    if (feature.value.length > 0) list.tag(1, WireType.lengthDelimited).bytes(packed.finish());
    w.tag(2, WireType.lengthDelimited).bytes(list.finish());
  } else {
    const packed = new ProtoWriter();
    for (const v of feature.value) packed.int64(v);
    if (feature.value.length > 0) list.tag(1, WireType.lengthDelimited).bytes(packed.finish());
    w.tag(3, WireType.lengthDelimited).bytes(list.finish());
  }
  return w.finish();
}

/**
 * Builds a bytes-list feature; strings are UTF-8 encoded.
 * @example
 * ```ts
 * bytesFeature(["jpeg"]);
 * ```
 */
export function bytesFeature(values: (Uint8Array | string)[]): Feature {
  return {
    kind: "bytes",
    value: values.map((v) => typeof v === "string" ? new TextEncoder().encode(v) : v),
  };
}

/**
 * Builds a float-list feature.
 * @example
 * ```ts
 * floatFeature([0.1, 0.5]);
 * ```
 */
export function floatFeature(values: ArrayLike<number>): Feature {
  return { kind: "float", value: Float32Array.from(values) };
}

/**
 * Builds an int64-list feature.
 * @example
 * ```ts
 * int64Feature([1, 3]);
 * ```
 */
export function int64Feature(values: ArrayLike<number>): Feature {
  return { kind: "int64", value: Array.from(values) };
}
