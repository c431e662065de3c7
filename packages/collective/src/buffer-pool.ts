/**
 * Message buffers recycled once HTTP/2 has finished with them (a write's callback) or the group has consumed
 * them (a received frame). Fresh multi-megabyte buffers cost page faults and garbage collections on every
 * message; in steady state the pool holds as many buffers as are in flight and allocates nothing.
 */
export class BufferPool {
  private readonly free: Buffer[] = [];
  private readonly owned = new WeakSet<ArrayBuffer>();
  private allocated = 0;

  constructor(readonly bufferBytes: number) {}

  /**
   * A buffer of exactly `bufferBytes` at the start of its own allocation: a payload behind the 36 bytes of
   * gRPC prefix and frame header is 4-byte aligned, so f32, f16 and bf16 values can be read and written
   * through typed-array views.
   */
  acquire(): Buffer {
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    this.allocated += 1;
    const memory = new ArrayBuffer(this.bufferBytes);
    this.owned.add(memory);
    return Buffer.from(memory);
  }

  /** Takes back a buffer of this pool, or any view into one; anything else is ignored. */
  release(buffer: Uint8Array): void {
    const memory = buffer.buffer;
    if (memory instanceof ArrayBuffer && this.owned.has(memory)) this.free.push(Buffer.from(memory));
  }

  /** How many buffers this pool ever allocated (flat once warm; tests watch it). */
  get allocatedCount(): number {
    return this.allocated;
  }
}
