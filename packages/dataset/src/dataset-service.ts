import * as grpc from '@grpc/grpc-js';
import {
  formatHostPort,
  loadProto,
  type DatasetProto,
  type DatasetServiceClient,
  type DatasetServiceHandlers,
  type GetEpochPlanRequest__Output,
  type GetEpochPlanResponse__Output
} from '@ringtrain/proto';
import { planEpoch, PlanError, type EpochPlan, type EpochPlanRequest } from './epoch-plan.js';
import { loadManifest, manifestFromJson, type LoadedManifest } from './load-manifest.js';
import { shardSampleCounts, splitNames, type SplitName } from './manifest.js';
import type { OpenStoreOptions } from './open-store.js';
import { StoreError } from './store-error.js';

/** A plan for a 1.28M-sample split is ~6 MB on the wire: far above grpc-js's 4 MiB default. */
const messageLimit = 256 * 1024 * 1024;
const channelOptions = {
  'grpc.max_receive_message_length': messageLimit,
  'grpc.max_send_message_length': messageLimit
};

export type DatasetServiceOptions = {
  /** Dataset URIs this service serves; requests for any other URI are refused, so clients cannot read arbitrary paths. */
  datasets: readonly string[];
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  store?: OpenStoreOptions;
  /** How long a manifest is served from memory before it is read again (a re-ingest replaces it). */
  manifestTtlMs?: number;
};

export type RunningDatasetService = { address: string; port: number; stop(): Promise<void> };

/** A plan request names the dataset and split; the service supplies the shard layout from the manifest. */
export type RemotePlanRequest = Omit<EpochPlanRequest, 'shardSampleCounts'> & { dataset: string; split: SplitName };

export type RemotePlan = EpochPlan & { manifestSha256: string };

function datasetProto(): DatasetProto {
  return grpc.loadPackageDefinition(loadProto('dataset.proto')) as unknown as DatasetProto;
}

/** Starts the gRPC dataset service (`ringtrain dataset-service`). */
export async function startDatasetService(options: DatasetServiceOptions): Promise<RunningDatasetService> {
  if (options.datasets.length === 0) throw new Error('the dataset service needs at least one dataset URI to serve');
  const served = new Set(options.datasets.map((uri) => uri.replace(/\/+$/, '')));
  const ttl = options.manifestTtlMs ?? 30_000;
  const cache = new Map<string, { loaded: Promise<LoadedManifest>; at: number }>();
  const manifestOf = (uri: string): Promise<LoadedManifest> => {
    const key = uri.replace(/\/+$/, '');
    if (!served.has(key))
      throw new ServiceError(
        grpc.status.PERMISSION_DENIED,
        `dataset ${uri} is not served here; served: ${[...served].join(', ')}`
      );
    const hit = cache.get(key);
    if (hit && Date.now() - hit.at < ttl) return hit.loaded;
    const loaded = loadManifest(key, options.store ?? {});
    cache.set(key, { loaded, at: Date.now() });
    loaded.catch(() => cache.delete(key));
    return loaded;
  };

  const handlers: DatasetServiceHandlers = {
    GetManifest: (call, callback) => {
      respond(callback, async () => {
        const loaded = await manifestOf(call.request.datasetUri);
        return { manifestJson: loaded.json, manifestSha256: loaded.sha256 };
      });
    },
    GetEpochPlan: (call, callback) => {
      respond(callback, async () => {
        const request = call.request;
        const loaded = await manifestOf(request.datasetUri);
        const plan = planEpoch(toPlanRequest(request, loaded));
        return {
          samples: Array.from(plan.samples),
          steps: plan.steps,
          dropped: plan.dropped,
          padded: plan.padded,
          epochSamples: String(plan.epochSamples),
          manifestSha256: loaded.sha256
        };
      });
    }
  };

  const server = new grpc.Server(channelOptions);
  server.addService(datasetProto().ringtrain.dataset.v1.DatasetService.service, handlers);
  const host = options.host ?? '127.0.0.1';
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(
      formatHostPort(host, options.port ?? 0),
      grpc.ServerCredentials.createInsecure(),
      (error, bound) => (error ? reject(error) : resolve(bound))
    );
  });
  return {
    address: formatHostPort(host, port),
    port,
    stop: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve()))
  };
}

class ServiceError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string
  ) {
    super(message);
  }
}

function toPlanRequest(request: GetEpochPlanRequest__Output, loaded: LoadedManifest): EpochPlanRequest {
  const split = request.split as SplitName;
  if (!splitNames.includes(split))
    throw new ServiceError(
      grpc.status.INVALID_ARGUMENT,
      `split must be one of ${splitNames.join(', ')}, got "${request.split}"`
    );
  if (request.remainder === 'REMAINDER_POLICY_UNSPECIFIED') {
    throw new ServiceError(
      grpc.status.INVALID_ARGUMENT,
      'remainder must be chosen explicitly: REMAINDER_POLICY_DROP or REMAINDER_POLICY_PAD'
    );
  }
  const seed = Number(request.seed);
  const samplesConsumed = Number(request.samplesConsumed);
  if (!Number.isSafeInteger(seed) || !Number.isSafeInteger(samplesConsumed))
    throw new ServiceError(grpc.status.INVALID_ARGUMENT, 'seed and samples_consumed must be below 2^53');
  return {
    shardSampleCounts: shardSampleCounts(loaded.manifest.splits[split]),
    seed,
    epoch: request.epoch,
    worldSize: request.worldSize,
    rank: request.rank,
    batchSize: request.batchSize,
    samplesConsumed,
    remainder: request.remainder === 'REMAINDER_POLICY_PAD' ? 'pad' : 'drop',
    partitions: request.partitions,
    ...(request.shuffleBlockSamples > 0 ? { shuffleBlockSamples: request.shuffleBlockSamples } : {}),
    ...(request.dropLastBatchBelow > 0 ? { dropLastBatchBelow: request.dropLastBatchBelow } : {})
  };
}

function respond<T>(callback: (error: grpc.ServiceError | null, value?: T) => void, work: () => Promise<T>): void {
  work().then(
    (value) => callback(null, value),
    (error: unknown) => callback(toStatus(error))
  );
}

function toStatus(error: unknown): grpc.ServiceError {
  const message = error instanceof Error ? error.message : String(error);
  let code = grpc.status.INTERNAL;
  if (error instanceof ServiceError) code = error.code;
  else if (error instanceof PlanError) code = grpc.status.INVALID_ARGUMENT;
  else if (error instanceof StoreError) {
    code = {
      'not-found': grpc.status.NOT_FOUND,
      'no-such-bucket': grpc.status.NOT_FOUND,
      'access-denied': grpc.status.PERMISSION_DENIED,
      invalid: grpc.status.FAILED_PRECONDITION,
      transient: grpc.status.UNAVAILABLE
    }[error.code];
  } else if (/manifest|format version/.test(message)) code = grpc.status.FAILED_PRECONDITION;
  return Object.assign(new Error(message), { code, details: message, metadata: new grpc.Metadata() });
}

/** Client of the dataset service, used by workers and the coordinator. */
export class DatasetServiceConnection {
  private readonly client: DatasetServiceClient;

  constructor(readonly address: string) {
    const Client = datasetProto().ringtrain.dataset.v1.DatasetService;
    this.client = new Client(address, grpc.credentials.createInsecure(), channelOptions);
  }

  async getManifest(dataset: string, deadlineMs = 30_000): Promise<LoadedManifest> {
    const response = await new Promise<{ manifestJson: string; manifestSha256: string }>((resolve, reject) =>
      this.client.getManifest({ datasetUri: dataset }, { deadline: Date.now() + deadlineMs }, (error, value) =>
        error || !value ? reject(clientError(this.address, error)) : resolve(value)
      )
    );
    const loaded = manifestFromJson(response.manifestJson, `manifest of ${dataset} from ${this.address}`);
    if (loaded.sha256 !== response.manifestSha256)
      throw new Error(`manifest of ${dataset} from ${this.address} arrived corrupted (sha256 mismatch)`);
    return loaded;
  }

  async getEpochPlan(request: RemotePlanRequest, deadlineMs = 60_000): Promise<RemotePlan> {
    const response = await new Promise<GetEpochPlanResponse__Output>((resolve, reject) =>
      this.client.getEpochPlan(
        {
          datasetUri: request.dataset,
          split: request.split,
          seed: String(request.seed),
          epoch: request.epoch,
          worldSize: request.worldSize,
          rank: request.rank,
          batchSize: request.batchSize,
          samplesConsumed: String(request.samplesConsumed),
          remainder: request.remainder === 'pad' ? 'REMAINDER_POLICY_PAD' : 'REMAINDER_POLICY_DROP',
          partitions: request.partitions,
          shuffleBlockSamples: request.shuffleBlockSamples ?? 0,
          dropLastBatchBelow: request.dropLastBatchBelow ?? 0
        },
        { deadline: Date.now() + deadlineMs },
        (error, value) => (error || !value ? reject(clientError(this.address, error)) : resolve(value))
      )
    );
    return {
      samples: Uint32Array.from(response.samples),
      steps: response.steps,
      dropped: response.dropped,
      padded: response.padded,
      epochSamples: Number(response.epochSamples),
      manifestSha256: response.manifestSha256
    };
  }

  close(): void {
    this.client.close();
  }
}

function clientError(address: string, error: grpc.ServiceError | null): Error {
  if (!error) return new Error(`dataset service at ${address} returned an empty answer`);
  const name = grpc.status[error.code] ?? String(error.code);
  return Object.assign(new Error(`dataset service at ${address}: ${name}: ${error.details || error.message}`), {
    code: error.code
  });
}
