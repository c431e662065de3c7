import path from 'node:path';
import { centerCropPlanner, DataLoader, loadManifest, openStore, type CropPlanner, type Manifest, type ObjectStore } from '@ringtrain/dataset';
import { IMAGENET_MEAN, IMAGENET_STD, initBackend, planRandomResizedCrop, type BackendChoice } from '@ringtrain/model';
import type { RunConfig } from '@ringtrain/coordinator';
import { CheckpointStore } from './checkpoint-store.js';

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
  close(): Promise<void>;
}

const augmentPlanner: CropPlanner = (width, height, random) => planRandomResizedCrop(width, height, { uniform: random });

export async function openRunResources(config: RunConfig, workerId: string, log: (line: string) => void): Promise<RunResources> {
  const backend = await initBackend({ requested: config.backend, log });
  const { manifest } = await loadManifest(config.dataset);
  const imageSize = Number(config.training.imageSize ?? 224);
  const store = openStore(config.dataset);
  const common = {
    store, manifest, seed: config.seed, batchSize: config.batchSize, imageSize, mean: IMAGENET_MEAN, std: IMAGENET_STD,
    cacheBytes: 2 ** 30, threads: config.loaderThreads,
  } as const;
  const train = new DataLoader({ ...common, split: 'train', planner: config.augment ? augmentPlanner : centerCropPlanner, cacheDir: path.join(config.cacheDir, workerId, 'train') });
  const val = new DataLoader({ ...common, split: 'val', planner: centerCropPlanner, cacheDir: path.join(config.cacheDir, workerId, 'val') });
  const out = openStore(config.out);
  return {
    config, backend, manifest, train, val, out, imageSize,
    checkpoints: new CheckpointStore(out, config.keepCheckpoints),
    close: async () => {
      await Promise.all([train.close(), val.close()]);
    },
  };
}
