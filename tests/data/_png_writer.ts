// A minimal PNG writer for tests: all-zero pixels of any declared size, streamed through
// CompressionStream so a 20000×20000 image costs a few MB (its rows are deflated, never held at once).
import { crc32 } from "../../data/weights/torch_zip.ts";

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  v.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** A valid PNG of `width`×`height` black 1-bit greyscale pixels (filter byte 0 per row). */
export async function zeroPng(width: number, height: number): Promise<Uint8Array> {
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr.set([1, 0, 0, 0, 0], 8); // bit depth 1, greyscale, deflate, adaptive filters, no interlace
  const rowBytes = 1 + Math.ceil(width / 8);
  const rowsPerWrite = Math.max(1, Math.floor((1 << 20) / rowBytes));
  const zeros = new Uint8Array(rowBytes * rowsPerWrite);
  const stream = new CompressionStream("deflate");
  const writer = stream.writable.getWriter();
  const compressed = new Response(stream.readable).arrayBuffer();
  for (let row = 0; row < height; row += rowsPerWrite) {
    await writer.write(zeros.subarray(0, rowBytes * Math.min(rowsPerWrite, height - row)));
  }
  await writer.close();
  const idat = new Uint8Array(await compressed);
  const signature = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const parts = [signature, chunk("IHDR", ihdr), chunk("IDAT", idat), chunk("IEND", new Uint8Array())];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
