/**
 * How a buffer of `length` elements is cut for a ring of `worldSize` ranks: N contiguous segments whose
 * sizes differ by at most one, each cut into chunks of at most `chunkElements`. Every rank computes the same
 * boundaries, so a frame's (offset, count) can be checked against them.
 */
export interface Span {
  offset: number;
  count: number;
}

export function segmentSpan(length: number, worldSize: number, segment: number): Span {
  const base = Math.floor(length / worldSize);
  const remainder = length % worldSize;
  const offset = segment * base + Math.min(segment, remainder);
  return { offset, count: base + (segment < remainder ? 1 : 0) };
}

export function chunkSpans(span: Span, chunkElements: number): Span[] {
  const chunks: Span[] = [];
  for (let start = 0; start < span.count; start += chunkElements) {
    chunks.push({ offset: span.offset + start, count: Math.min(chunkElements, span.count - start) });
  }
  return chunks;
}

/** (a mod n) for possibly negative a. */
export function ringIndex(value: number, worldSize: number): number {
  return ((value % worldSize) + worldSize) % worldSize;
}
