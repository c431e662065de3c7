import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { z } from 'zod';
import type { StepRecord } from '@ringtrain/coordinator';
import { MAX_COLLECTIVE_STRIPES } from '@ringtrain/proto';
import { ExitError } from '../../errors.js';
import { parseOptions } from '../../options.js';
import { addLinkFlags, linkFlagsSchema, shapedLink } from '../bench/link-flags.js';
import { addStepFlags, stepFlagsSchema } from '../bench/step-flags.js';

const schema = z.object({
  workers: z
    .string()
    .regex(/^\d+(,\d+)*$/, 'use a comma-separated list such as 1,2')
    .transform((list) => list.split(',').map(Number))
    .refine((list) => list.every((n) => n >= 1 && n <= 64), 'each world size must be 1..64'),
  imageSize: z.coerce.number().int().min(16).max(1024),
  overlapAllreduce: z.boolean().default(false),
  collectiveStripes: z.coerce.number().int().min(1).max(MAX_COLLECTIVE_STRIPES),
  ...stepFlagsSchema,
  ...linkFlagsSchema
});

export interface ScalingPoint {
  workers: number;
  imagesPerSecond: number;
  /** images/s at N / (N × images/s at 1); null without a 1-worker point. */
  efficiency: number | null;
  /** Wall-clock seconds per timed step, and rank 0's mean split of a step. */
  stepSeconds: number;
  split: { dataWaitSeconds: number; computeSeconds: number; allreduceSeconds: number; optimizerSeconds: number };
}

/**
 * `ringtrain bench scaling`: real training runs (coordinator, worker processes, ring all-reduce) on the
 * mnist digits at each world size; images/s over the timed steps, measured between consecutive step
 * reports, so every cost of a step counts. With --link-gbit every worker runs in its own network namespace
 * behind a shaped link (the coordinator and dataset service stay in this process, on the network's host end).
 */
export function scalingBenchCommand(): Command {
  const command = new Command('scaling')
    .description('images/s of real training at each world size and the scaling efficiency; --json prints one object')
    .option('--workers <list>', 'world sizes, comma-separated', '1,2')
    .option('--image-size <px>', 'square input size', '64')
    .option(
      '--overlap-allreduce',
      "all-reduce each gradient bucket as the staged backward pass finishes it (a TrainingRun's hyperparameters.overlapAllReduce)"
    )
    .option(
      '--collective-stripes <k>',
      `links per ring edge, each on its own collective thread (a TrainingRun's hyperparameters.collectiveStripes, 1–${MAX_COLLECTIVE_STRIPES})`,
      '1'
    );
  addStepFlags(command, {
    batchSize: '32',
    steps: '8',
    warmupSteps: '2',
    backendHelp: 'compute backend of the workers: auto, tensorflow, wasm or cpu (default: auto)',
    computeThreadsHelp:
      "TensorFlow's threads per worker at every world size (default: the cores divided among that size's workers)"
  });
  return addLinkFlags(command).action(async (raw: Record<string, unknown>) => {
    await benchScaling(parseOptions(schema, raw));
  });
}

async function benchScaling(options: z.output<typeof schema>): Promise<void> {
  const { parseRunConfig } = await import('@ringtrain/protocol');
  const { ingest } = await import('@ringtrain/dataset');
  const { writeMnistImageFolder } = await import('./demo-data.js');
  const { runLocalCluster } = await import('./local-run.js');
  const link = shapedLink(options);
  // One network for every world size: slot i always runs behind rank i's link; created before any worker,
  // removed after all have exited (or on Ctrl-C, SIGTERM, a crash).
  const network =
    link === undefined
      ? undefined
      : await (
          await import('@ringtrain/collective')
        ).ShapedNetwork.create({
          ranks: Math.max(...options.workers),
          ...link
        });
  const work = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-bench-scaling-'));
  try {
    const totalSteps = options.steps + options.warmupSteps;
    const maxWorkers = Math.max(...options.workers);
    // Enough training samples that no world size runs out within one epoch (90% go to training).
    const perClass = Math.ceil((maxWorkers * options.batchSize * totalSteps) / 9) + 2;
    await writeMnistImageFolder(path.join(work, 'digits'), perClass);
    const dataset = path.join(work, 'dataset');
    await ingest({ source: path.join(work, 'digits'), to: dataset, valFraction: 0.02, seed: 0 });
    const points: ScalingPoint[] = [];
    for (const workers of options.workers) {
      const out = path.join(work, `w${workers}`);
      const config = parseRunConfig(
        {
          runId: `bench-scaling-${workers}`,
          dataset,
          out,
          workers,
          epochs: 1,
          batchSize: options.batchSize,
          partitions: workers,
          maxSteps: totalSteps,
          checkpointEverySteps: 0,
          cacheDir: path.join(out, 'cache'),
          backend: options.backend,
          overlapAllReduce: options.overlapAllreduce,
          collectiveStripes: options.collectiveStripes,
          training: { numClasses: 10, imageSize: options.imageSize, seed: 0 }
        },
        'bench scaling'
      );
      const steps: { at: number; record: StepRecord }[] = [];
      const result = await runLocalCluster(config, {
        logDir: path.join(out, 'logs'),
        heartbeatTimeoutMs: 300_000,
        maxRestarts: 0,
        ...(options.computeThreads !== undefined ? { computeThreads: options.computeThreads } : {}),
        onCoordinator: (coordinator) =>
          coordinator.on('step', (record) => steps.push({ at: performance.now(), record })),
        ...(network !== undefined
          ? {
              network: {
                hostAddress: network.hostAddress,
                placement: {
                  host: (index: number) => network.ranks[index]!.address,
                  spawn: network.spawn.bind(network)
                }
              }
            }
          : {})
      });
      if (result.state !== 'succeeded')
        throw new ExitError(1, `the ${workers}-worker run ${result.state}: ${result.reason}`);
      // The first timed step is measured from the last warmup step's report.
      const timed = steps.slice(Math.max(0, options.warmupSteps - 1));
      if (timed.length < 2) throw new ExitError(1, `only ${steps.length} steps were reported; raise --steps`);
      const seconds = (timed.at(-1)!.at - timed[0]!.at) / 1000;
      const images = timed.slice(1).reduce((sum, step) => sum + step.record.images, 0);
      const mean = (pick: (record: StepRecord) => number): number =>
        timed.slice(1).reduce((sum, step) => sum + pick(step.record), 0) / (timed.length - 1);
      points.push({
        workers,
        imagesPerSecond: images / seconds,
        efficiency: null,
        stepSeconds: seconds / (timed.length - 1),
        split: {
          dataWaitSeconds: mean((r) => r.dataWaitSeconds),
          computeSeconds: mean((r) => r.computeSeconds),
          allreduceSeconds: mean((r) => r.allreduceSeconds),
          optimizerSeconds: mean((r) => r.optimizerSeconds)
        }
      });
    }
    const single = points.find((point) => point.workers === 1);
    for (const point of points)
      if (single !== undefined) point.efficiency = point.imagesPerSecond / (point.workers * single.imagesPerSecond);
    const report = {
      imageSize: options.imageSize,
      batchSize: options.batchSize,
      steps: options.steps,
      warmupSteps: options.warmupSteps,
      backend: options.backend,
      computeThreads: options.computeThreads ?? null,
      overlapAllReduce: options.overlapAllreduce,
      collectiveStripes: options.collectiveStripes,
      link: link === undefined ? null : { gbit: link.gbit, latencyMs: link.latencyMs ?? 0 },
      points
    };
    if (options.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else {
      for (const point of points) {
        const { split } = point;
        process.stdout.write(
          `${point.workers} workers: ${point.imagesPerSecond.toFixed(1)} images/s, efficiency ${point.efficiency === null ? 'n/a' : point.efficiency.toFixed(2)}, ` +
            `${point.stepSeconds.toFixed(2)} s/step (data ${split.dataWaitSeconds.toFixed(2)}, compute ${split.computeSeconds.toFixed(2)}, all-reduce ${split.allreduceSeconds.toFixed(2)}, optimizer ${split.optimizerSeconds.toFixed(2)})\n`
        );
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true });
    await network?.close();
  }
}
