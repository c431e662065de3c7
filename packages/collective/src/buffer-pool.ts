/**
 * Send buffers recycled when gRPC has finished with them. A grpc-js server stream may hold a message until
 * the previous write completes, so a buffer is reused only after its write callback: in steady state the
 * pool holds as many buffers as are in flight and allocates nothing.
 */
export class BufferPool {
  private readonly free: Buffer[] = [];
  private allocated = 0;

  constructor(readonly bufferBytes: number) {}

  /** A buffer of exactly `bufferBytes`, laid at byte 1 of an aligned allocation (see `alignedFrame`). */
  acquire(): Buffer {
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    this.allocated += 1;
    // One leading byte puts the payload after the 31-byte header on a 4-byte boundary, so that f32, f16 and
    // bf16 values can be written through typed-array views.
    return Buffer.from(new ArrayBuffer(this.bufferBytes + 1), 1, this.bufferBytes);
  }

  release(buffer: Buffer): void {
    if (buffer.byteLength === this.bufferBytes) this.free.push(buffer);
  }

  /** How many buffers this pool ever allocated (flat once warm; tests watch it). */
  get allocatedCount(): number {
    return this.allocated;
  }
}
