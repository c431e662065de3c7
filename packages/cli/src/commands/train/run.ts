import { randomBytes } from 'node:crypto';
import { access, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RunMetricsFile, RunPlan } from '@ringtrain/coordinator';
import type { RunConfig } from '@ringtrain/protocol';
import type {
  defaultMaxResolution as defaultMaxResolutionFunction,
  ingest as ingestFunction,
  loadManifest as loadManifestFunction
} from '@ringtrain/dataset';
import {
  DEFAULT_CHECKPOINT_EVERY_STEPS,
  DEFAULT_KEEP_CHECKPOINTS,
  runSettingsFromHyperparameters,
  type Hyperparameters
} from '@ringtrain/proto';
import { z } from 'zod';
import { ExitError, UsageError } from '../../errors.js';
import { heartbeatTimeoutSchema, parseOptions } from '../../options.js';
import { givenHyperparameters, parseHyperparameterFlags } from './hyperparameter-flags.js';

const positiveInt = z.coerce.number().int().min(1);

export const trainOptionsSchema = z
  .object({
    data: z.string().min(1).optional(),
    demo: z.boolean().default(false),
    workers: positiveInt.max(64).optional(),
    pretrained: z.string().min(1).optional(),
    freezeBackbone: z.boolean().default(false),
    freezeBatchNorm: z.boolean().default(false),
    out: z.string().min(1).optional(),
    resume: z.boolean().default(false),
    valFraction: z.coerce.number().gt(0).lt(1).optional(),
    unfreezeAfterEpochs: z.coerce.number().int().min(0).optional(),
    checkpointEvery: z.coerce.number().int().min(0).default(DEFAULT_CHECKPOINT_EVERY_STEPS),
    keepCheckpoints: positiveInt.default(DEFAULT_KEEP_CHECKPOINTS),
    maxSteps: positiveInt.optional(),
    tensorboard: z.boolean().default(true),
    partitions: positiveInt.optional(),
    maxRestarts: z.coerce.number().int().min(0).default(3),
    heartbeatTimeout: heartbeatTimeoutSchema,
    computeThreads: z.coerce.number().int().min(1).optional(),
    backend: z.enum(['auto', 'tensorflow', 'wasm', 'cpu']).default('auto'),
    dryRun: z.boolean().default(false),
    json: z.boolean().default(false)
  })
  .refine((options) => options.demo || options.data !== undefined || options.resume, {
    message: 'give --data <ImageFolder dir or dataset URI>, or --demo',
    path: ['data']
  });
export type TrainOptions = z.output<typeof trainOptionsSchema>;

/** The digits demo: small enough for two CPU cores in a few minutes, big enough to beat chance clearly. */
const DEMO = {
  workers: 2,
  hyperparameters: { epochs: 4, batchSizePerWorker: 16, imageSize: 32 },
  perClass: 60,
  valFraction: 0.2,
  out: 'runs/demo'
} as const;

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false
  );
}

/** The epoch history of the run being resumed, so its metrics.json stays whole; none if it never wrote one. */
async function readPreviousMetrics(file: string): Promise<RunMetricsFile | undefined> {
  if (!(await exists(file))) return undefined;
  return JSON.parse(await readFile(file, 'utf8')) as RunMetricsFile;
}

function isRemote(uri: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(uri) && !uri.startsWith('file://');
}

export async function runTrain(raw: Record<string, unknown>): Promise<void> {
  const options = parseOptions(trainOptionsSchema, raw);
  const { loadRunPlan, renderRunPlan, RUN_RECORD_KEY } = await import('@ringtrain/coordinator');
  const { parseRunConfig } = await import('@ringtrain/protocol');
  const { defaultMaxResolution, ingest, loadManifest } = await import('@ringtrain/dataset');
  const { CheckpointStore } = await import('@ringtrain/worker');
  const { runLocalCluster } = await import('./local-run.js');

  const out = path.resolve(options.out ?? (options.demo ? DEMO.out : 'runs/train'));
  await mkdir(out, { recursive: true });
  const note = (line: string): void => void process.stderr.write(`${line}\n`);
  const runFile = path.join(out, 'run.json');
  // Where the workers write them: the run config names no other place, so checkpointsUri's default.
  const checkpoints = new CheckpointStore(path.join(out, 'checkpoints'), options.keepCheckpoints);

  let configInput: Record<string, unknown>;
  if (options.resume) {
    if (!(await exists(runFile)) || (await checkpoints.latest()) === undefined) {
      throw new UsageError(
        `--resume: ${out} holds no checkpointed run (run.json and checkpoints/latest.json); start one without --resume`
      );
    }
    configInput = JSON.parse(await readFile(runFile, 'utf8')) as Record<string, unknown>;
    // A resumed run keeps its data order and model; only how long it runs may change.
    const { epochs, earlyStoppingPatience } = givenHyperparameters(raw);
    if (epochs !== undefined) configInput.epochs = epochs;
    if (options.maxSteps !== undefined) configInput.maxSteps = options.maxSteps;
    else delete configInput.maxSteps;
    if (earlyStoppingPatience !== undefined) configInput.earlyStopping = { patience: earlyStoppingPatience };
    if (!options.tensorboard) configInput.tensorboard = false;
  } else {
    if (await checkpoints.latest()) {
      if (!options.demo)
        throw new UsageError(
          `${out} already holds a checkpointed run: pass --resume to continue it, or choose another --out`
        );
      if (!options.dryRun) await rm(path.join(out, 'checkpoints'), { recursive: true, force: true });
    }
    // Nothing to resume here: the books of an earlier run (ended, or stopped before its first checkpoint) go.
    if (!options.dryRun) await rm(path.join(out, RUN_RECORD_KEY), { force: true });
    const hyperparameters = parseHyperparameterFlags(raw, options.demo ? DEMO.hyperparameters : {});
    configInput = await prepareRun(options, hyperparameters, out, note, { ingest, loadManifest, defaultMaxResolution });
  }
  let config;
  try {
    config = parseRunConfig(configInput, options.resume ? runFile : 'the command line');
  } catch (error) {
    throw new UsageError((error as Error).message);
  }

  // The plan, from the manifest's real counts, before anything starts; --dry-run stops here.
  let plan: RunPlan | undefined;
  try {
    plan = await loadRunPlan(config);
  } catch (error) {
    const problem = `cannot describe the run from ${config.dataset}: ${error instanceof Error ? error.message : String(error)}`;
    if (options.dryRun) throw new ExitError(1, problem);
    note(`ringtrain: ${problem}`);
  }
  if (options.dryRun) {
    process.stdout.write(options.json ? `${JSON.stringify({ plan })}\n` : `${renderRunPlan(plan!)}\n`);
    return;
  }
  if (plan !== undefined) note(renderRunPlan(plan));
  await writeFile(runFile, `${JSON.stringify(config, null, 1)}\n`);

  const logDir = path.join(out, 'logs');
  const previous = options.resume ? await readPreviousMetrics(path.join(out, 'metrics.json')) : undefined;
  const result = await runLocalCluster(config, {
    logDir,
    heartbeatTimeoutMs: options.heartbeatTimeout * 1000,
    maxRestarts: options.maxRestarts,
    ...(options.computeThreads !== undefined ? { computeThreads: options.computeThreads } : {}),
    ...(previous !== undefined ? { previous } : {}),
    ...(plan !== undefined ? { plan } : {})
  });
  const metrics = result.metrics;
  if (options.json) {
    process.stdout.write(
      `${JSON.stringify({ state: result.state, reason: result.reason, out, metrics: path.join(out, 'metrics.json'), model: path.join(out, 'model'), ...watching(config, metrics.summary, out), valAccuracy: metrics.final.valAccuracy, restarts: metrics.restarts.length, weightsIdentical: metrics.weightsIdentical, durationSeconds: metrics.durationSeconds })}\n`
    );
  }
  if (result.state === 'failed') throw new ExitError(1, `training failed: ${result.reason} (logs in ${logDir})`);
  if (result.state === 'stopped')
    throw new ExitError(
      130,
      `training stopped: ${result.reason}; continue with: ringtrain train --resume --out ${out}`
    );
  if (!options.json) {
    const watched = watching(config, metrics.summary, out);
    const accuracy = metrics.final.valAccuracy === null ? 'n/a' : `${(metrics.final.valAccuracy * 100).toFixed(1)}%`;
    process.stdout.write(
      `trained in ${metrics.durationSeconds.toFixed(0)} s: validation accuracy ${accuracy}, ${metrics.restarts.length} restarts, ranks bit-identical: ${metrics.weightsIdentical}\n` +
        `  model:   ${path.join(out, 'model')} (model.safetensors in torchvision layout, tfjs/, labels.json)\n` +
        (typeof metrics.summary.endReason === 'string' ? `  ended early: ${metrics.summary.endReason}\n` : '') +
        (watched.bestModel !== undefined
          ? `  best:    ${watched.bestModel} (after epoch ${metrics.summary.bestEpoch as number}: validation accuracy ${((metrics.summary.bestValAccuracy as number) * 100).toFixed(1)}%)\n`
          : '') +
        `  metrics: ${path.join(out, 'metrics.json')}\n` +
        (watched.tensorboard !== undefined ? `  watch it: tensorboard --logdir ${watched.tensorboard}\n` : '') +
        `  classify new images: npx ringtrain predict ${path.relative(process.cwd(), out) || '.'} <image files or folders>\n` +
        `  measure it:          npx ringtrain eval ${path.relative(process.cwd(), out) || '.'}\n` +
        `  in PyTorch: torchvision.models.resnet18(num_classes=${config.training.numClasses as number}).load_state_dict(safetensors.torch.load_file('${path.join(out, 'model', 'model.safetensors')}'))\n`
    );
  }
}

/** Where the best model and the TensorBoard logs of a finished run are, when it has them. */
function watching(
  config: RunConfig,
  summary: Record<string, unknown>,
  out: string
): { bestModel?: string; tensorboard?: string } {
  return {
    ...(typeof summary.bestModel === 'string' ? { bestModel: path.join(out, 'model-best') } : {}),
    ...(config.tensorboard ? { tensorboard: path.join(out, 'tb') } : {})
  };
}

type DatasetApi = {
  ingest: typeof ingestFunction;
  loadManifest: typeof loadManifestFunction;
  defaultMaxResolution: typeof defaultMaxResolutionFunction;
};

/** Makes the demo data if asked, ingests a folder (or takes a dataset as is), and builds the run configuration. */
async function prepareRun(
  options: TrainOptions,
  hp: Hyperparameters,
  out: string,
  note: (line: string) => void,
  dataset: DatasetApi
): Promise<Record<string, unknown>> {
  const demo = options.demo;
  if (
    options.pretrained !== undefined &&
    !isRemote(options.pretrained) &&
    !(await exists(options.pretrained.replace(/^file:\/\//, '')))
  ) {
    throw new UsageError(
      `--pretrained ${options.pretrained}: no such file (give torchvision resnet18 weights saved as .safetensors)`
    );
  }
  let source = options.data;
  if (demo && source === undefined) {
    const { writeMnistImageFolder } = await import('./demo-data.js');
    source = path.join(out, 'demo-digits');
    await rm(source, { recursive: true, force: true });
    const made = await writeMnistImageFolder(source, DEMO.perClass);
    note(`ringtrain: demo: wrote ${made.images} handwritten digits (the mnist package) as PNGs to ${source}`);
  }
  const data = source!;
  let datasetUri: string;
  if (isRemote(data) || (await exists(path.join(data, 'manifest.json')))) {
    datasetUri = isRemote(data) ? data : path.resolve(data);
  } else {
    if (!(await exists(data)))
      throw new UsageError(
        `--data ${data}: no such directory (give an ImageFolder tree: one sub-folder of images per class)`
      );
    datasetUri = path.join(out, 'dataset');
    note(`ringtrain: ingesting ${data} into ${datasetUri}`);
    try {
      const summary = await dataset.ingest({
        source: data,
        to: datasetUri,
        valFraction: options.valFraction ?? (demo ? DEMO.valFraction : 0.1),
        seed: hp.seed,
        maxResolution: dataset.defaultMaxResolution(hp.imageSize)
      });
      note(
        `ringtrain: ${summary.manifest.splits.train.count} training and ${summary.manifest.splits.val.count} validation images of ${summary.manifest.classes.length} classes`
      );
    } catch (error) {
      throw new ExitError(1, `ingest of ${data} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const { manifest } = await dataset.loadManifest(datasetUri);
  if (manifest.classes.length < 2)
    throw new UsageError(`${datasetUri} has ${manifest.classes.length} class; a classifier needs at least 2`);
  const workers = options.workers ?? (demo ? DEMO.workers : 2);
  const settings = runSettingsFromHyperparameters(hp, {
    freezeBackbone: options.freezeBackbone,
    freezeBatchNorm: options.freezeBatchNorm,
    ...(options.unfreezeAfterEpochs !== undefined ? { unfreezeAfterEpochs: options.unfreezeAfterEpochs } : {})
  });
  return {
    runId: `run-${new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14)}-${randomBytes(3).toString('hex')}`,
    dataset: datasetUri,
    out,
    workers,
    ...settings,
    training: { ...settings.training, numClasses: manifest.classes.length },
    partitions: options.partitions ?? workers,
    ...(options.maxSteps !== undefined ? { maxSteps: options.maxSteps } : {}),
    checkpointEverySteps: options.checkpointEvery,
    keepCheckpoints: options.keepCheckpoints,
    ...(options.pretrained !== undefined
      ? {
          pretrained: isRemote(options.pretrained)
            ? options.pretrained
            : path.resolve(options.pretrained.replace(/^file:\/\//, ''))
        }
      : {}),
    tensorboard: options.tensorboard,
    cacheDir: path.join(out, 'cache'),
    backend: options.backend
  };
}
