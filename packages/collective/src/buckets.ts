/** Consecutive tensors of `allReduceMany` reduced as one operation, or one large tensor reduced in place. */
export interface BucketRange {
  /** Index of the first tensor. */
  start: number;
  /** One past the last tensor. */
  end: number;
  /** Elements of all the range's tensors together. */
  elements: number;
  /** A tensor of at least a bucket's size: reduced where it lies, not packed. */
  inPlace: boolean;
}

/**
 * How `allReduceMany` fuses tensors: consecutive tensors packed into buckets of at most `bucketElements`, a
 * tensor at least that large on its own. Every rank (threaded or not) cuts the same list the same way, so
 * the buckets, and the bits of their sums, agree.
 */
export function* bucketRanges(tensors: readonly Float32Array[], bucketElements: number): Generator<BucketRange> {
  let start = 0;
  while (start < tensors.length) {
    const first = tensors[start]!;
    if (first.length >= bucketElements) {
      yield { start, end: start + 1, elements: first.length, inPlace: true };
      start += 1;
      continue;
    }
    let end = start;
    let elements = 0;
    while (
      end < tensors.length &&
      tensors[end]!.length < bucketElements &&
      elements + tensors[end]!.length <= bucketElements
    ) {
      elements += tensors[end]!.length;
      end += 1;
    }
    yield { start, end, elements, inPlace: false };
    start = end;
  }
}

export function packBucket(tensors: readonly Float32Array[], range: BucketRange, bucket: Float32Array): void {
  let offset = 0;
  for (let i = range.start; i < range.end; i += 1) {
    bucket.set(tensors[i]!, offset);
    offset += tensors[i]!.length;
  }
}

export function unpackBucket(bucket: Float32Array, range: BucketRange, tensors: readonly Float32Array[]): void {
  let offset = 0;
  for (let i = range.start; i < range.end; i += 1) {
    tensors[i]!.set(bucket.subarray(offset, offset + tensors[i]!.length));
    offset += tensors[i]!.length;
  }
}

/** Where a group that hands its buckets to a thread packs them: shared memory, reused step after step. */
export interface BucketStaging {
  acquire(length: number): Float32Array;
  release(staged: Float32Array): void;
}

/**
 * `allReduceMany` for groups whose operations run elsewhere (a collective thread, or several): the same
 * buckets as ProcessGroup's, each packed into `staging` and handed to `allReduce` before the first is
 * awaited, so they are reduced back to back. Throws the first failure once every bucket has settled.
 */
export async function allReduceInBuckets(
  tensors: readonly Float32Array[],
  bucketElements: number,
  staging: BucketStaging,
  allReduce: (data: Float32Array) => Promise<void>
): Promise<void> {
  const operations: Promise<void>[] = [];
  for (const range of bucketRanges(tensors, bucketElements)) {
    if (range.inPlace) {
      operations.push(allReduce(tensors[range.start]!));
      continue;
    }
    const bucket = staging.acquire(range.elements);
    packBucket(tensors, range, bucket);
    operations.push(
      allReduce(bucket)
        .then(() => unpackBucket(bucket, range, tensors))
        .finally(() => staging.release(bucket))
    );
  }
  const outcomes = await Promise.allSettled(operations);
  const failed = outcomes.find((outcome) => outcome.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}
