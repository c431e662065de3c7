/**
 * @ringtrain/dataset: object storage, the shard format, ingest, epoch plans, the dataset service and the
 * worker-side loader. This file is the package's whole public API.
 */
export type { ObjectInfo, ObjectStore } from './object-store.js';
export { openStore, readObject, writeObject, type OpenStoreOptions } from './open-store.js';
export { FileStore } from './file-store.js';
export { S3Store, defaultS3Timeouts, type S3Timeouts } from './s3-store.js';
export { HttpStore } from './http-store.js';
export { s3ConfigFromEnv, type S3Config } from './s3-config.js';
export { StoreError, isNotFound, type StoreErrorCode } from './store-error.js';
export { configureRetryDefaults, retryDefaults, withRetry, type RetryOptions } from './retry.js';

export {
  encodeShard,
  decodeShardIndex,
  shardHeadLength,
  shardMagic,
  ShardFormatError,
  type ShardIndexEntry,
  type ShardSample
} from './shard-format.js';
export {
  manifestFormatVersion,
  manifestKey,
  manifestSchema,
  parseManifest,
  shardSampleCounts,
  splitNames,
  type Manifest,
  type ManifestShard,
  type ManifestSplit,
  type SplitName
} from './manifest.js';
export { loadManifest, type LoadedManifest } from './load-manifest.js';
export {
  chooseDecodeConcurrency,
  type DecodeConcurrency,
  type DecodeConcurrencyOptions
} from './decode-concurrency.js';
export {
  ingest,
  defaultMaxResolution,
  defaultShardSizeBytes,
  type IngestEvent,
  type IngestOptions,
  type IngestSummary
} from './ingest.js';

export {
  epochOrder,
  epochWindows,
  planEpoch,
  PlanError,
  samplesConsumedAfter,
  type EpochPlan,
  type EpochPlanRequest,
  type EpochWindows,
  type RemainderPolicy
} from './epoch-plan.js';
export { seededRandom, type SeededRandom } from './seeded-random.js';

export {
  DatasetServiceConnection,
  startDatasetService,
  type DatasetServiceOptions,
  type RemotePlan,
  type RemotePlanRequest,
  type RunningDatasetService
} from './dataset-service.js';

export type { CropBox, CropPlan, CropPlanner, ResizeCrop } from './crop-planner.js';
export {
  ShardCache,
  ShardChecksumError,
  ShardTooLargeError,
  splitCacheBudget,
  type CacheStats,
  type CachedShard,
  type ShardCacheOptions
} from './shard-cache.js';
export { DataLoader, type Batch, type LoaderOptions, type LoaderStats, type Triple } from './loader.js';
export { transformImage, ImageDecodeError, type ImageTransformOptions } from './single-image.js';
export { encodeGreyscalePng } from './grey-png.js';
