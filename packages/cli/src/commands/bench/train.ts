import { Command } from 'commander';
import { z } from 'zod';
import { parseOptions } from '../../options.js';
import { addStepFlags, stepFlagsSchema } from './step-flags.js';

const schema = z.object({
  ...stepFlagsSchema,
  imageSize: z.coerce.number().int().min(32),
  microBatchSize: z.coerce.number().int().min(1).optional(),
  numClasses: z.coerce.number().int().min(1)
});

/**
 * `ringtrain bench train`: images/s of one process's ResNet18 training step (forward, backward, Adam) on
 * synthetic data — what a worker spends per step apart from loading and the all-reduce.
 */
export function trainBenchCommand(): Command {
  const command = new Command('train')
    .description(
      'images/s of the ResNet18 training step; --json prints {backend, computeThreads, imageSize, batchSize, imagesPerSec, stepMs, forwardMs, backwardMs, optimizerMs, kernelsPerStep, peakRssBytes}'
    )
    .option('--image-size <px>', 'square input side', '224')
    .option('--micro-batch-size <n>', 'split each step into micro-batches of this size (memory; wasm stops at 4 GiB)')
    .option('--num-classes <n>', 'classes of the head', '1000');
  return addStepFlags(command, {
    batchSize: '16',
    steps: '5',
    warmupSteps: '1',
    backendHelp: 'auto, tensorflow, wasm or cpu (default: RINGTRAIN_BACKEND, else auto)',
    computeThreadsHelp:
      "TensorFlow's intra-op threads (default: every core this process may use); compare with torch.set_num_threads"
  }).action(async (raw: Record<string, unknown>) => {
    const options = parseOptions(schema, { ...raw, backend: raw.backend ?? process.env.RINGTRAIN_BACKEND ?? 'auto' });
    const { benchmarkTrainingStep, chooseComputeThreads, initBackend } = await import('@ringtrain/model');
    const threads = chooseComputeThreads(
      options.computeThreads !== undefined ? { requested: options.computeThreads } : {}
    );
    const choice = await initBackend({ requested: options.backend, threads });
    const result = await benchmarkTrainingStep(options);
    const report = { backend: choice.name, computeThreads: choice.native?.threads.intraOp, ...result };
    if (options.json) {
      process.stdout.write(`${JSON.stringify(report)}\n`);
      return;
    }
    process.stdout.write(
      `${report.backend} ${report.imageSize}×${report.imageSize} batch ${report.batchSize}: ` +
        `${report.imagesPerSec.toFixed(2)} images/s, step ${report.stepMs.toFixed(0)} ms ` +
        `(forward ${report.forwardMs.toFixed(0)}, backward ${report.backwardMs.toFixed(0)}, optimizer ${report.optimizerMs.toFixed(0)}), ` +
        `${report.kernelsPerStep} kernels per step, peak RSS ${(report.peakRssBytes / 2 ** 20).toFixed(0)} MiB\n`
    );
  });
}
