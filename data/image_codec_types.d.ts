// Types of the imagescript codec modules imported by image_codec.ts (they ship as untyped CommonJS).
declare const codec: {
  init(): Promise<{
    decode(bytes: Uint8Array): {
      width: number;
      height: number;
      framebuffer: Uint8Array;
      format: number;
      buffer: Uint8Array;
    };
  }>;
  encode(
    pixels: Uint8Array | Uint8ClampedArray,
    options: { width: number; height: number; channels: number; level?: number },
  ): Uint8Array;
};
export default codec;
