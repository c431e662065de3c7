import { createHash } from 'node:crypto';
import type { CollectiveGroup } from '@ringtrain/collective';
import type { Assignment, CoordinatorConnection, Logger } from '@ringtrain/protocol';
import { readObject } from '@ringtrain/dataset';
import {
  evaluateBatch,
  labelsJson,
  loadSafetensorsWeights,
  saveSafetensorsWeights,
  saveTfjsModel,
  Trainer,
  type TrainingConfigInput
} from '@ringtrain/model';
import {
  BEST_MODEL_DIR,
  BEST_MODEL_EXTRA_KEY,
  bestModelStateFrom,
  earlyStopReason,
  observeValidation,
  type BestModelState,
  type ValidationRecord
} from './best-model.js';
import { CheckpointIntegrityError, DataCursorSchema, type DataCursor } from './checkpoint-store.js';
import type { RunResources } from './resources.js';
import { GradientAverager } from './gradient-step.js';
import { TensorBoardWriter } from './tensorboard-writer.js';

export interface GenerationContext {
  assignment: Assignment;
  group: CollectiveGroup;
  connection: CoordinatorConnection;
  workerId: string;
  resources: RunResources;
  /** True once this process was asked to stop (SIGINT/SIGTERM, or the coordinator said so). */
  stopRequested: () => boolean;
  log: Logger;
}

export interface GenerationOutcome {
  stopped: boolean;
  weightsSha256: string;
  summary: Record<string, string | number | boolean>;
}

/** One rank's figures for one global step, all-gathered so every rank sees the global batch. */
interface StepFigures {
  lossSum: number;
  correct: number;
  count: number;
  indexSum: string;
  indexSquareSum: string;
  stop: boolean;
  /** This rank's own time split, so the dashboard shows which rank the others wait for. */
  backend: string;
  dataWaitSeconds: number;
  computeSeconds: number;
  allreduceSeconds: number;
  /** Of the previous step: the optimizer runs after the figures are exchanged. */
  optimizerSeconds: number;
  [key: string]: string | number | boolean;
}

const freshCursor = (epoch: number): DataCursor => ({
  epoch,
  samplesConsumed: 0,
  trained: { count: 0, indexSum: '0', indexSquareSum: '0', lossSum: 0, correct: 0, seconds: 0 }
});

/** Where the last model goes; the best by validation accuracy goes beside it (BEST_MODEL_DIR). */
const MODEL_DIR = 'model';

const seconds = (from: number): number => (performance.now() - from) / 1000;

/**
 * Trains one generation to the end of the run (or to a stop request). Every rank starts from the same bytes:
 * rank 0 reads the last checkpoint, or builds the initial model, and broadcasts the serialized trainer, so
 * weights, optimizer state, step, RNG and data cursor are identical everywhere before the first step.
 */
export async function trainGeneration(context: GenerationContext): Promise<GenerationOutcome> {
  const { assignment, group, resources, log } = context;
  const { config } = resources;
  const { rank, worldSize } = assignment;
  const trainer = await startingTrainer(context);
  const board = rank === 0 && config.tensorboard ? await openTensorBoard(context, trainer.trainer.step + 1) : undefined;
  try {
    const cursor = parseCursor(trainer.extra);
    log.info(
      {
        generation: assignment.generation,
        epoch: cursor.epoch,
        samplesConsumed: cursor.samplesConsumed,
        step: trainer.trainer.step
      },
      'generation starts'
    );
    return await trainEpochs(context, trainer.trainer, cursor, bestModelStateFrom(trainer.extra), board);
  } finally {
    trainer.trainer.dispose();
    // Only a failed generation gets here with events unwritten: they are written without holding it up.
    void board?.close();
  }

  async function trainEpochs(
    context: GenerationContext,
    trainer: Trainer,
    start: DataCursor,
    startBest: BestModelState,
    board: TensorBoardWriter | undefined
  ): Promise<GenerationOutcome> {
    const window = worldSize * config.batchSize;
    const averager = new GradientAverager(group, {
      overlap: config.overlapAllReduce,
      allReduce: { op: 'mean', wire: config.gradientWire }
    });
    let stopped = false;
    let reachedMaxSteps = config.maxSteps !== undefined && trainer.step >= config.maxSteps;
    let previousOptimizerSeconds = 0;
    let best = startBest;
    const patience = config.earlyStopping?.patience;
    // Decided before a restart (the checkpoint after the deciding epoch carries the books): decided again alike.
    let earlyStop = start.epoch < config.epochs ? earlyStopReason(best, patience) : undefined;
    if (patience !== undefined && rank === 0 && resources.manifest.splits.val.count === 0)
      log.warn(
        'early stopping watches validation accuracy, and this dataset has no validation images: every epoch runs'
      );
    for (let epoch = start.epoch; epoch < config.epochs && !reachedMaxSteps && earlyStop === undefined; epoch += 1) {
      trainer.setEpoch(epoch);
      const cursor = epoch === start.epoch ? structuredClone(start) : freshCursor(epoch);
      const plan = await resources.planTrain({ epoch, worldSize, rank, samplesConsumed: cursor.samplesConsumed });
      log.info(
        {
          epoch,
          planSource: plan.source,
          samples: plan.samples.length,
          steps: plan.steps,
          samplesConsumed: cursor.samplesConsumed
        },
        'epoch plan'
      );
      const stepsBefore = Math.round(cursor.samplesConsumed / window);
      const epochSteps = stepsBefore + plan.steps;
      const epochStarted = performance.now() - cursor.trained.seconds * 1000;
      let step = 0;
      let waitStarted = performance.now();
      for await (const batch of resources.train.epoch(plan.samples, epoch)) {
        const dataWait = seconds(waitStarted);
        const stepStarted = performance.now();
        const input = { images: batch.images, labels: batch.labels, count: batch.count };
        const { result, computed, allReduced } = await averager.step(trainer, input);
        let indexSum = 0n;
        let indexSquareSum = 0n;
        for (const sample of batch.samples) {
          indexSum += BigInt(sample);
          indexSquareSum += BigInt(sample) * BigInt(sample);
        }
        const figures = await group.allGather<StepFigures>({
          lossSum: result.loss * result.count,
          correct: result.correct,
          count: result.count,
          indexSum: indexSum.toString(),
          indexSquareSum: indexSquareSum.toString(),
          stop: context.stopRequested(),
          backend: resources.backend.name,
          dataWaitSeconds: dataWait,
          computeSeconds: (computed - stepStarted) / 1000,
          allreduceSeconds: (allReduced - computed) / 1000,
          optimizerSeconds: previousOptimizerSeconds
        });
        const reduced = performance.now();
        const applied = trainer.applyGradients(result.gradients);
        const optimized = performance.now();
        previousOptimizerSeconds = (optimized - reduced) / 1000;
        step += 1;
        const planned = Math.min(config.batchSize, plan.samples.length - (step - 1) * config.batchSize);
        cursor.samplesConsumed += planned * worldSize;
        const images = figures.reduce((sum, each) => sum + each.count, 0);
        const lossSum = figures.reduce((sum, each) => sum + each.lossSum, 0);
        const correct = figures.reduce((sum, each) => sum + each.correct, 0);
        cursor.trained = {
          count: cursor.trained.count + images,
          indexSum: figures
            .reduce((sum, each) => sum + BigInt(each.indexSum), BigInt(cursor.trained.indexSum))
            .toString(),
          indexSquareSum: figures
            .reduce((sum, each) => sum + BigInt(each.indexSquareSum), BigInt(cursor.trained.indexSquareSum))
            .toString(),
          lossSum: cursor.trained.lossSum + lossSum,
          correct: cursor.trained.correct + correct,
          seconds: seconds(epochStarted)
        };
        const stepSeconds = seconds(stepStarted) + dataWait;
        log.debug(
          {
            step: trainer.step,
            dataWait,
            compute: (computed - stepStarted) / 1000,
            allreduce: (reduced - computed) / 1000,
            optimizer: (optimized - reduced) / 1000
          },
          'step'
        );
        if (rank === 0) {
          const report = {
            workerId: context.workerId,
            generation: assignment.generation,
            epoch,
            globalStep: trainer.step,
            epochStep: stepsBefore + step,
            epochSteps,
            loss: images > 0 ? lossSum / images : 0,
            accuracy: images > 0 ? correct / images : 0,
            images,
            imagesPerSecond: images / Math.max(stepSeconds, 1e-9),
            dataWaitSeconds: dataWait,
            computeSeconds: (computed - stepStarted) / 1000,
            allreduceSeconds: (reduced - computed) / 1000,
            optimizerSeconds: (optimized - reduced) / 1000,
            learningRate: applied.lr,
            ranks: figures.map((each, index) => ({
              rank: index,
              backend: each.backend,
              dataWaitSeconds: each.dataWaitSeconds,
              computeSeconds: each.computeSeconds,
              allreduceSeconds: each.allreduceSeconds,
              optimizerSeconds: each.optimizerSeconds
            }))
          };
          context.connection
            .reportStep(report)
            .catch((error: unknown) => log.warn({ error: String(error) }, 'step report failed'));
          board?.scalars(trainer.step, stepScalars(report));
        }
        stopped = figures.some((each) => each.stop);
        reachedMaxSteps = config.maxSteps !== undefined && trainer.step >= config.maxSteps;
        const lastOfEpoch = step === plan.steps;
        const periodic = config.checkpointEverySteps > 0 && trainer.step % config.checkpointEverySteps === 0;
        if (rank === 0 && !lastOfEpoch && (periodic || stopped)) await writeCheckpoint(context, trainer, cursor, best);
        if ((stopped && !lastOfEpoch) || reachedMaxSteps) break;
        waitStarted = performance.now();
      }
      const epochComplete = step === plan.steps;
      if (stopped && !epochComplete) break;
      await syncBatchNormStatistics(group, trainer);
      const validation = await validate(context, trainer);
      const trained = cursor.trained;
      // validate() gathered every rank's sums, so every rank keeps the same books and stops after the same epoch.
      if (validation.count > 0) {
        const observed = observeValidation(best, {
          epoch,
          globalStep: trainer.step,
          valAccuracy: validation.correct / validation.count,
          valLoss: validation.lossSum / validation.count,
          epochComplete
        });
        best = observed.state;
        if (observed.improved && rank === 0) await saveModel(context, trainer, BEST_MODEL_DIR, best.best);
        if (epochComplete && !stopped && !reachedMaxSteps && epoch + 1 < config.epochs)
          earlyStop = earlyStopReason(best, patience);
      }
      if (rank === 0) {
        const report = {
          workerId: context.workerId,
          generation: assignment.generation,
          epoch,
          trainLoss: trained.count > 0 ? trained.lossSum / trained.count : 0,
          trainAccuracy: trained.count > 0 ? trained.correct / trained.count : 0,
          valLoss: validation.count > 0 ? validation.lossSum / validation.count : 0,
          valAccuracy: validation.count > 0 ? validation.correct / validation.count : 0,
          valImages: validation.count,
          samplesTrained: trained.count,
          sampleChecksum: `${trained.indexSum}:${trained.indexSquareSum}`,
          samplesDropped: plan.dropped,
          seconds: trained.seconds,
          imagesPerSecond: trained.seconds > 0 ? trained.count / trained.seconds : 0,
          confusion: Array.from(validation.confusion)
        };
        await context.connection.reportEpoch(report);
        board?.scalars(trainer.step, epochScalars(report));
        void board?.flush();
        // A run cut short by maxSteps keeps its place mid-epoch, so --resume with a larger budget continues it.
        await writeCheckpoint(context, trainer, epochComplete ? freshCursor(epoch + 1) : cursor, best);
      }
      if (stopped) break;
    }
    if (earlyStop !== undefined) log.info({ epochs: config.epochs }, earlyStop);
    const weightsSha256 = hashWeights(trainer);
    const summary = rank === 0 && !stopped ? await saveModel(context, trainer, MODEL_DIR) : {};
    await board?.close();
    return {
      stopped,
      weightsSha256,
      summary: {
        ...summary,
        globalStep: trainer.step,
        ...(rank === 0 && best.best !== undefined
          ? {
              bestModel: `${resources.out.uri}/${BEST_MODEL_DIR}`,
              bestEpoch: best.best.epoch + 1,
              bestValAccuracy: best.best.valAccuracy
            }
          : {}),
        // The coordinator gives it as the run's reason instead of 'training finished'.
        ...(earlyStop !== undefined ? { endReason: earlyStop } : {})
      }
    };
  }
}

async function startingTrainer(
  context: GenerationContext
): Promise<{ trainer: Trainer; extra: Record<string, string> }> {
  const { group, resources, assignment } = context;
  let bytes: Uint8Array = new Uint8Array(0);
  if (assignment.rank === 0) {
    const pointer = await resources.checkpoints.latest().catch(refuseTampered);
    if (pointer !== undefined) {
      context.log.info(
        { key: pointer.key, step: pointer.globalStep, cursor: pointer.cursor },
        'resuming from checkpoint'
      );
      bytes = await resources.checkpoints.read(pointer).catch(refuseTampered);
    } else {
      bytes = await initialCheckpoint(resources);
    }
  }
  const [length] = await group.allGather(bytes.byteLength);
  const carrier = new Float32Array(Math.ceil(length! / 4));
  const carrierBytes = new Uint8Array(carrier.buffer, 0, length);
  if (assignment.rank === 0) carrierBytes.set(bytes);
  await group.broadcast(carrier, 0);
  return Trainer.fromCheckpoint(carrierBytes);
}

/** Rank 0's starting point when there is no checkpoint: pretrained weights with a new head, or a seeded init. */
async function initialCheckpoint(resources: RunResources): Promise<Uint8Array> {
  const { config } = resources;
  const training = config.training as TrainingConfigInput;
  let trainer: Trainer;
  if (config.pretrained !== undefined) {
    let weights: Buffer;
    try {
      weights = await readObject(config.pretrained);
    } catch (error) {
      throw new WorkerConfigError(
        `cannot read --pretrained ${config.pretrained}: ${error instanceof Error ? error.message : String(error)}`
      );
    }
    const loaded = loadSafetensorsWeights(weights, {
      numClasses: training.numClasses,
      replaceHead: true,
      seed: training.seed ?? 0
    });
    trainer = Trainer.create(training, loaded.model);
  } else {
    trainer = Trainer.create(training);
  }
  const bytes = trainer.saveCheckpoint({ cursor: JSON.stringify(freshCursor(0)), runId: config.runId });
  trainer.dispose();
  return bytes;
}

/** A checkpoint that is not what the run wrote fails the run: another attempt would only find it again. */
function refuseTampered(error: unknown): never {
  throw error instanceof CheckpointIntegrityError ? new WorkerConfigError(error.message) : error;
}

/** A problem that no restart can fix (bad configuration or input): the coordinator fails the run at once. */
export class WorkerConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkerConfigError';
  }
}

function parseCursor(extra: Record<string, string>): DataCursor {
  const parsed = DataCursorSchema.safeParse(JSON.parse(extra.cursor ?? 'null'));
  if (!parsed.success)
    throw new WorkerConfigError(
      `the checkpoint carries no valid data cursor (${parsed.error.issues[0]?.message}): it was not written by ringtrain train`
    );
  return parsed.data;
}

async function writeCheckpoint(
  context: GenerationContext,
  trainer: Trainer,
  cursor: DataCursor,
  best: BestModelState
): Promise<void> {
  const { resources, assignment } = context;
  const bytes = trainer.saveCheckpoint({
    cursor: JSON.stringify(cursor),
    [BEST_MODEL_EXTRA_KEY]: JSON.stringify(best),
    runId: resources.config.runId
  });
  const pointer = await resources.checkpoints.write(resources.config.runId, trainer.step, cursor, bytes);
  context.log.info(
    { key: pointer.key, step: trainer.step, epoch: cursor.epoch, samplesConsumed: cursor.samplesConsumed },
    'checkpoint committed'
  );
  await context.connection
    .reportCheckpoint({
      workerId: context.workerId,
      generation: assignment.generation,
      key: pointer.key,
      epoch: cursor.epoch,
      globalStep: trainer.step,
      samplesConsumed: cursor.samplesConsumed,
      bytes: bytes.byteLength
    })
    .catch((error: unknown) => context.log.warn({ error: String(error) }, 'checkpoint report failed'));
}

/**
 * Batch-norm running statistics are rank-local during an epoch (DDP without SyncBatchNorm); at each epoch end
 * rank 0's are broadcast, as DDP's broadcast_buffers does, so validation and the saved model are one model.
 */
async function syncBatchNormStatistics(group: CollectiveGroup, trainer: Trainer): Promise<void> {
  const buffers = trainer.model.spec.filter(
    (spec) => spec.kind === 'bn-running-mean' || spec.kind === 'bn-running-var' || spec.kind === 'bn-num-batches'
  );
  const values = buffers.map((spec) => trainer.model.read(spec.name));
  const flat = new Float32Array(values.reduce((sum, value) => sum + value.length, 0));
  values.reduce((offset, value) => (flat.set(value, offset), offset + value.length), 0);
  await group.broadcast(flat, 0);
  let offset = 0;
  for (const [i, spec] of buffers.entries()) {
    trainer.model.write(spec.name, flat.subarray(offset, offset + values[i]!.length));
    offset += values[i]!.length;
  }
}

/**
 * Each rank evaluates every worldSize-th validation sample; the sums are gathered and the confusion counts
 * summed with an f32 all-reduce, so accuracy and the matrix are exact (a cell stays far below 2^24 images).
 */
async function validate(
  context: GenerationContext,
  trainer: Trainer
): Promise<{ lossSum: number; correct: number; count: number; confusion: Float32Array }> {
  const { resources, assignment, group } = context;
  const total = resources.manifest.splits.val.count;
  const mine = Uint32Array.from(
    { length: Math.max(0, Math.ceil((total - assignment.rank) / assignment.worldSize)) },
    (_, i) => assignment.rank + i * assignment.worldSize
  );
  let lossSum = 0;
  let correct = 0;
  let count = 0;
  const confusion = new Float32Array(trainer.model.numClasses * trainer.model.numClasses);
  for await (const batch of resources.val.epoch(mine, 0)) {
    const result = evaluateBatch(trainer.model, batch.images, batch.labels, batch.count, resources.imageSize);
    lossSum += result.lossSum;
    correct += result.correct;
    count += batch.count;
    for (let cell = 0; cell < confusion.length; cell += 1) confusion[cell]! += result.confusion[cell]!;
  }
  const all = await group.allGather({ lossSum, correct, count });
  await group.allReduce(confusion, { op: 'sum', wire: 'f32' });
  const sums = all.reduce(
    (sum, each) => ({
      lossSum: sum.lossSum + each.lossSum,
      correct: sum.correct + each.correct,
      count: sum.count + each.count
    }),
    { lossSum: 0, correct: 0, count: 0 }
  );
  return { ...sums, confusion };
}

/** sha256 of every tensor of the model in state-dict order: equal across ranks when they hold one model. */
export function hashWeights(trainer: Trainer): string {
  const hash = createHash('sha256');
  for (const spec of trainer.model.spec) {
    const values = trainer.model.read(spec.name);
    hash.update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  }
  return hash.digest('hex');
}

/**
 * The model as torchvision safetensors, a TensorFlow.js directory and labels.json, under `dir` (model/ at the
 * end, model-best/ whenever validation accuracy improves, with best.json saying when, written last).
 */
async function saveModel(
  context: GenerationContext,
  trainer: Trainer,
  dir: string,
  best?: ValidationRecord
): Promise<Record<string, string>> {
  const { resources } = context;
  const labels = resources.manifest.classes;
  await resources.out.put(
    `${dir}/model.safetensors`,
    Buffer.from(
      saveSafetensorsWeights(trainer.model, { labels: JSON.stringify(labels), imageSize: String(resources.imageSize) })
    )
  );
  for (const [name, bytes] of saveTfjsModel(trainer.model, labels))
    await resources.out.put(`${dir}/tfjs/${name}`, Buffer.from(bytes));
  await resources.out.put(`${dir}/labels.json`, Buffer.from(labelsJson(labels)));
  if (best !== undefined) {
    const record = { ...best, epoch: best.epoch + 1, runId: resources.config.runId };
    await resources.out.put(`${dir}/best.json`, Buffer.from(`${JSON.stringify(record, null, 1)}\n`));
    context.log.info(record, `best model so far exported to ${dir}/`);
  }
  return {
    safetensors: `${resources.out.uri}/${dir}/model.safetensors`,
    tfjs: `${resources.out.uri}/${dir}/tfjs`,
    labels: `${resources.out.uri}/${dir}/labels.json`
  };
}

/** The run's TensorBoard log, which never fails the run: a write that fails is retried at the next flush. */
async function openTensorBoard(context: GenerationContext, firstStep: number): Promise<TensorBoardWriter> {
  let warned = false;
  return TensorBoardWriter.open({
    store: context.resources.out,
    firstStep,
    onError: (error) => {
      if (!warned) context.log.warn({ error: String(error) }, 'TensorBoard events not written yet; retrying');
      warned = true;
    }
  });
}

/** A step's scalars under the names PyTorch users log them with; the time split is rank 0's. */
function stepScalars(report: {
  loss: number;
  accuracy: number;
  learningRate: number;
  imagesPerSecond: number;
  dataWaitSeconds: number;
  computeSeconds: number;
  allreduceSeconds: number;
  optimizerSeconds: number;
}): Record<string, number> {
  return {
    'train/loss': report.loss,
    'train/accuracy': report.accuracy,
    'train/learning_rate': report.learningRate,
    'train/images_per_second': report.imagesPerSecond,
    'time/data_wait_seconds': report.dataWaitSeconds,
    'time/compute_seconds': report.computeSeconds,
    'time/allreduce_seconds': report.allreduceSeconds,
    'time/optimizer_seconds': report.optimizerSeconds,
    'time/step_seconds':
      report.dataWaitSeconds + report.computeSeconds + report.allreduceSeconds + report.optimizerSeconds
  };
}

/** An epoch's figures at the step it ended on, so they line up with the steps' curves (as Lightning logs them). */
function epochScalars(report: {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  imagesPerSecond: number;
  valImages: number;
  valLoss: number;
  valAccuracy: number;
}): Record<string, number> {
  return {
    epoch: report.epoch + 1,
    'epoch/train_loss': report.trainLoss,
    'epoch/train_accuracy': report.trainAccuracy,
    'epoch/images_per_second': report.imagesPerSecond,
    ...(report.valImages > 0 ? { 'val/loss': report.valLoss, 'val/accuracy': report.valAccuracy } : {})
  };
}
