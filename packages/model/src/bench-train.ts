import * as tf from '@tensorflow/tfjs-core';
import { SeededRandom } from './random.js';
import { Trainer } from './trainer.js';

export interface TrainBenchmarkOptions {
  readonly imageSize: number;
  readonly batchSize: number;
  /** Timed training steps (after `warmupSteps` untimed ones, which pay for kernel set-up and allocation). */
  readonly steps: number;
  readonly warmupSteps?: number;
  readonly microBatchSize?: number;
  readonly numClasses?: number;
}

export interface TrainBenchmarkResult {
  readonly imageSize: number;
  readonly batchSize: number;
  readonly steps: number;
  /** Images per second of whole training steps (gradients + optimizer). */
  readonly imagesPerSec: number;
  /** Mean wall time of one step: forward + backward + optimizer update. */
  readonly stepMs: number;
  /** Mean forward pass in training mode alone (timed separately, same batch). */
  readonly forwardMs: number;
  /** Mean gradient computation minus the forward pass. */
  readonly backwardMs: number;
  /** Mean optimizer update (Adam, all parameters) including the copy back into the model. */
  readonly optimizerMs: number;
  /** Backend kernels one whole step runs (gradients and optimizer): per-kernel overhead is paid this often. */
  readonly kernelsPerStep: number;
  /** The process's peak resident memory so far, in bytes (`process.resourceUsage().maxRSS`). */
  readonly peakRssBytes: number;
}

/**
 * Times the single-process training step on the active backend with synthetic data: what one worker of
 * a data-parallel run spends per step apart from loading and the all-reduce.
 */
export async function benchmarkTrainingStep(options: TrainBenchmarkOptions): Promise<TrainBenchmarkResult> {
  const { imageSize, batchSize, steps } = options;
  const numClasses = options.numClasses ?? 1000;
  const trainer = Trainer.create({ numClasses, imageSize, microBatchSize: options.microBatchSize });
  try {
    const random = SeededRandom.fromSeed(1);
    const batch = {
      images: Float32Array.from({ length: batchSize * imageSize * imageSize * 3 }, () => random.normal()),
      labels: Int32Array.from({ length: batchSize }, () => Math.floor(random.uniform() * numClasses)),
      count: batchSize
    };
    const micro = options.microBatchSize ?? batchSize;
    const forward = (): void => {
      for (let start = 0; start < batchSize; start += micro) {
        const n = Math.min(micro, batchSize - start);
        const pixels = imageSize * imageSize * 3;
        tf.tidy(() => {
          const x = tf.tensor4d(batch.images.subarray(start * pixels, (start + n) * pixels), [
            n,
            imageSize,
            imageSize,
            3
          ]);
          trainer.model.forward(x, { training: true }).dataSync();
        });
      }
    };
    let gradientMs = 0;
    let optimizerMs = 0;
    for (let i = 0; i < (options.warmupSteps ?? 1) + steps; i++) {
      const t0 = performance.now();
      const { gradients } = trainer.computeGradients(batch);
      const t1 = performance.now();
      trainer.applyGradients(gradients);
      const t2 = performance.now();
      if (i >= (options.warmupSteps ?? 1)) {
        gradientMs += t1 - t0;
        optimizerMs += t2 - t1;
      }
    }
    // One more step under tf.profile, untimed: it records every kernel the engine dispatches.
    const profile = await tf.profile(() => {
      trainer.applyGradients(trainer.computeGradients(batch).gradients);
    });
    forward();
    const f0 = performance.now();
    for (let i = 0; i < steps; i++) forward();
    const forwardMs = (performance.now() - f0) / steps;
    const stepMs = (gradientMs + optimizerMs) / steps;
    return {
      imageSize,
      batchSize,
      steps,
      imagesPerSec: (batchSize * 1000) / stepMs,
      stepMs,
      forwardMs,
      backwardMs: gradientMs / steps - forwardMs,
      optimizerMs: optimizerMs / steps,
      kernelsPerStep: profile.kernels.length,
      peakRssBytes: process.resourceUsage().maxRSS * 1024
    };
  } finally {
    trainer.dispose();
  }
}
