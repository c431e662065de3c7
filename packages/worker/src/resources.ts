import path from 'node:path';
import {
  DataLoader,
  DatasetServiceConnection,
  loadManifest,
  openStore,
  planEpoch,
  shardSampleCounts,
  splitCacheBudget,
  type CropPlanner,
  type EpochPlan,
  type Manifest,
  type ObjectStore
} from '@ringtrain/dataset';
import {
  IMAGENET_MEAN,
  IMAGENET_STD,
  initBackend,
  planRandomResizedCrop,
  type BackendChoice,
  type ComputeThreads
} from '@ringtrain/model';
import { checkpointsUri, type RunConfig } from '@ringtrain/protocol';
import type { RunStateKey } from '@ringtrain/proto';
import { CheckpointStore } from './checkpoint-store.js';
import { EVAL_PIPELINE } from './inference.js';

/** What a worker sets up once per run and keeps across generations: backend, manifest, loaders, stores. */
export interface RunResources {
  config: RunConfig;
  backend: BackendChoice;
  manifest: Manifest;
  train: DataLoader;
  val: DataLoader;
  out: ObjectStore;
  checkpoints: CheckpointStore;
  imageSize: number;
  /** This rank's plan of the training split for one epoch, and where it came from. */
  planTrain(request: TrainPlanRequest): Promise<EpochPlan & { source: 'dataset-service' | 'local' }>;
  close(): Promise<void>;
}

export interface TrainPlanRequest {
  epoch: number;
  worldSize: number;
  rank: number;
  samplesConsumed: number;
}

const augmentPlanner: CropPlanner = (width, height, random) =>
  planRandomResizedCrop(width, height, { uniform: random });

export async function openRunResources(
  config: RunConfig,
  workerId: string,
  log: (line: string) => void,
  threads?: ComputeThreads,
  stateKey?: RunStateKey
): Promise<RunResources> {
  const backend = await initBackend({ requested: config.backend, log, ...(threads !== undefined ? { threads } : {}) });
  const { manifest, sha256 } = await loadManifest(config.dataset);
  const service = config.datasetService === undefined ? undefined : new DatasetServiceConnection(config.datasetService);
  const imageSize = Number(config.training.imageSize ?? 224);
  const store = openStore(config.dataset);
  const common = {
    store,
    manifest,
    seed: config.seed,
    batchSize: config.batchSize,
    imageSize,
    mean: IMAGENET_MEAN,
    std: IMAGENET_STD,
    threads: config.loaderThreads
  } as const;
  // The run's cache budget (a TrainingRun's spec.workers.cacheSizeLimit) over both splits' caches, which share /cache.
  const cacheBytes = splitCacheBudget(manifest, config.cacheBytes);
  // Without augmentation the training images get the evaluation transform, so both splits show the model the same framing.
  const train = new DataLoader({
    ...common,
    split: 'train',
    cacheBytes: cacheBytes.train,
    planner: config.augment ? augmentPlanner : EVAL_PIPELINE.planner,
    cacheDir: path.join(config.cacheDir, workerId, 'train')
  });
  const val = new DataLoader({
    ...common,
    split: 'val',
    cacheBytes: cacheBytes.val,
    planner: EVAL_PIPELINE.planner,
    cacheDir: path.join(config.cacheDir, workerId, 'val')
  });
  const out = openStore(config.out);
  return {
    config,
    backend,
    manifest,
    train,
    val,
    out,
    imageSize,
    checkpoints: new CheckpointStore(checkpointsUri(config), config.keepCheckpoints, stateKey),
    planTrain: async ({ epoch, worldSize, rank, samplesConsumed }) => {
      const request = {
        seed: config.seed,
        epoch,
        worldSize,
        rank,
        batchSize: config.batchSize,
        samplesConsumed,
        remainder: 'drop',
        partitions: config.partitions,
        dropLastBatchBelow: config.dropLastBatchBelow
      } as const;
      if (service !== undefined) {
        try {
          const plan = await service.getEpochPlan({ ...request, dataset: config.dataset, split: 'train' });
          if (plan.manifestSha256 !== sha256)
            throw new Error(
              `the service planned from another manifest (sha256 ${plan.manifestSha256.slice(0, 12)}…, ours ${sha256.slice(0, 12)}…)`
            );
          return { ...plan, source: 'dataset-service' };
        } catch (error) {
          // Plans are pure functions of the manifest: the same library computes the same plan here.
          log(
            `dataset service ${service.address} gave no plan (${error instanceof Error ? error.message : String(error)}); planning locally`
          );
        }
      }
      return {
        ...planEpoch({ ...request, shardSampleCounts: shardSampleCounts(manifest.splits.train) }),
        source: 'local'
      };
    },
    close: async () => {
      service?.close();
      await Promise.all([train.close(), val.close()]);
    }
  };
}
