import type { AllReduceOptions, CollectiveGroup } from '@ringtrain/collective';
import type { GradientResult, Trainer, TrainingBatch } from '@ringtrain/model';

export interface AveragedGradients {
  /** The loss, accuracy and count of this rank's batch; `gradients` holds the mean over all ranks. */
  readonly result: GradientResult;
  /** performance.now() when the backward pass ended, and when the last all-reduce settled. */
  readonly computed: number;
  readonly allReduced: number;
}

/**
 * One step's gradients, averaged over the ranks. Unstaged: `computeGradients`, then one all-reduce of the whole
 * vector. Overlapped (run config `overlapAllReduce`): the trainer's staged backward hands each bucket over as
 * soon as it is final and its all-reduce starts at once, so with the collective on its own thread it runs while
 * the earlier layers' backward computes, and only the last (small) bucket is left to wait for. Every rank issues
 * the same buckets in the same order (`gradientBuckets()`), also a rank whose batch is empty.
 */
export class GradientAverager {
  /** Reused every step, in shared memory so a collective thread reduces the buckets where they lie. */
  private buffer: Float32Array | undefined;

  constructor(
    private readonly group: CollectiveGroup,
    private readonly options: { readonly overlap: boolean; readonly allReduce: AllReduceOptions }
  ) {}

  async step(trainer: Trainer, batch: TrainingBatch): Promise<AveragedGradients> {
    const { group, options } = this;
    if (!options.overlap) {
      const result = batch.count > 0 ? trainer.computeGradients(batch) : emptyResult(trainer);
      const computed = performance.now();
      await group.allReduce(result.gradients, options.allReduce);
      return { result, computed, allReduced: performance.now() };
    }
    const buckets = trainer.gradientBuckets();
    const last = buckets.at(-1)!;
    const length = gradientLength(trainer);
    if (this.buffer?.length !== length) this.buffer = new Float32Array(new SharedArrayBuffer(4 * length));
    const into = this.buffer;
    let computed = 0;
    let result: GradientResult;
    if (batch.count > 0) {
      result = await trainer.computeGradientsStaged(
        batch,
        (bucket) => {
          if (bucket.index === last.index) computed = performance.now();
          return group.allReduce(bucket.values, options.allReduce);
        },
        { into }
      );
    } else {
      into.fill(0);
      computed = performance.now();
      await Promise.all(
        buckets.map((bucket) =>
          group.allReduce(into.subarray(bucket.offset, bucket.offset + bucket.length), options.allReduce)
        )
      );
      result = { loss: 0, correct: 0, count: 0, gradients: into };
    }
    return { result, computed, allReduced: performance.now() };
  }
}

/** A rank with no images this step still takes part in the all-reduce, with zeros. */
function emptyResult(trainer: Trainer): GradientResult {
  return { loss: 0, correct: 0, count: 0, gradients: new Float32Array(gradientLength(trainer)) };
}

function gradientLength(trainer: Trainer): number {
  return trainer.gradientLayout().reduce((sum, entry) => sum + entry.length, 0);
}
