/**
 * A pool of storage buffers reused by size class, with live/peak byte accounting.
 *
 * Size classes are 2^k, 1.25·2^k, 1.5·2^k and 1.75·2^k bytes (at least 256), so a buffer wastes at most a
 * quarter of its size and a freed buffer serves every later request of its class. Reusing a buffer inside
 * one batch is safe: WebGPU orders dispatches in a queue, so a later writer runs after earlier readers.
 * @module
 */

/** Storage buffer usage of every pooled buffer. */
export const STORAGE_USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** Byte counts reported by {@link BufferPool.stats}. */
export interface MemoryStats {
  /** Bytes of buffers handed out and not yet released. */
  liveBytes: number;
  /** Highest `liveBytes` since creation or the last {@link BufferPool.resetPeak}. */
  peakBytes: number;
  /** Bytes of free buffers kept for reuse. */
  pooledBytes: number;
  /** Number of buffers handed out. */
  liveBuffers: number;
}

/**
 * Rounds a byte count up to its pool size class.
 *
 * @example
 * ```ts
 * import { sizeClass } from "./buffer_pool.ts";
 * console.log(sizeClass(1000)); // 1024
 * console.log(sizeClass(1100)); // 1280
 * ```
 */
export function sizeClass(bytes: number): number {
  if (bytes <= 256) return 256;
  const power = 2 ** Math.floor(Math.log2(bytes));
  for (const step of [1, 1.25, 1.5, 1.75, 2]) {
    const size = power * step;
    if (size >= bytes) return size;
  }
  return power * 2;
}

/**
 * Hands out storage buffers by size class and takes them back for reuse.
 *
 * @example
 * ```ts
 * import { getGpu } from "./gpu.ts";
 * const gpu = await getGpu();
 * const buffer = gpu.pool.acquire(4000);
 * gpu.pool.release(buffer);
 * console.log(gpu.pool.stats().pooledBytes >= 4000);
 * ```
 */
export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private live = 0;
  private peak = 0;
  private pooled = 0;
  private liveCount = 0;

  /** @param device the device that creates the buffers. */
  constructor(private readonly device: GPUDevice) {}

  /** Returns a buffer of at least `bytes` bytes (its size is the size class). */
  acquire(bytes: number): GPUBuffer {
    const size = sizeClass(bytes);
    const list = this.free.get(size);
    let buffer = list?.pop();
    if (buffer) {
      this.pooled -= size;
    } else {
      buffer = this.device.createBuffer({ size, usage: STORAGE_USAGE });
    }
    this.live += size;
    this.liveCount++;
    if (this.live > this.peak) this.peak = this.live;
    return buffer;
  }

  /** Takes a buffer back into the pool. */
  release(buffer: GPUBuffer): void {
    const size = buffer.size;
    this.live -= size;
    this.liveCount--;
    this.pooled += size;
    let list = this.free.get(size);
    if (!list) this.free.set(size, list = []);
    list.push(buffer);
  }

  /** Current byte counts. */
  stats(): MemoryStats {
    return {
      liveBytes: this.live,
      peakBytes: this.peak,
      pooledBytes: this.pooled,
      liveBuffers: this.liveCount,
    };
  }

  /** Sets the peak to the current live bytes (for measuring one phase). */
  resetPeak(): void {
    this.peak = this.live;
  }

  /** Destroys every free buffer. Call only after pending work was submitted. */
  trim(): void {
    for (const list of this.free.values()) for (const buffer of list) buffer.destroy();
    this.free.clear();
    this.pooled = 0;
  }
}
