import {
  defaultMaxResolution,
  ingest,
  isNotFound,
  loadManifest,
  openStore,
  StoreError,
  type IngestEvent,
  type Manifest
} from '@ringtrain/dataset';
import type { Logger } from 'pino';
import type { RunConfig } from '@ringtrain/protocol';
import { listenHttp, stopHttpServer, type HttpListenOptions } from './http-routes.js';
import { trainingImageSize } from './run-plan.js';

/** The run's own ingest failed, or the dataset URI already holds a different dataset: the run cannot train. */
export class DatasetIngestError extends Error {
  override readonly name = 'DatasetIngestError';
}

type IngestRequest = NonNullable<RunConfig['ingest']>;

/** How far the ingest is: what `/status` says while the coordinator ingests. */
export interface IngestProgress {
  imagesDone: number;
  imagesTotal: number;
  /** Shards stored so far, uploaded or found already there. */
  shardsWritten: number;
}

export interface IngestIfNeededOptions {
  /** Where the coordinator will serve HTTP: it answers there during the ingest already (0 picks a free port). */
  serve?: HttpListenOptions;
  /** Called once the HTTP server listens, with its URL (tests). */
  onServing?: (url: string) => void;
  /** The dataset package's ingest, unless a test stands in for it. */
  ingest?: typeof ingest;
  now?: () => number;
}

/** Progress lines at most this often: a large ingest reports every shard, which would flood the pod's log. */
const progressLogIntervalMs = 10_000;

/**
 * Ingests the run's source into its dataset URI unless a complete dataset is there already: the first
 * coordinator of a run ingests; one restarted mid-ingest runs it again, and ingest skips the shards already
 * stored with the right hash. Throws DatasetIngestError with what went wrong and where.
 */
export async function ingestIfNeeded(
  config: RunConfig,
  log: Logger,
  options: IngestIfNeededOptions = {}
): Promise<void> {
  const request = config.ingest;
  if (request === undefined) return;
  const missing = await whyNotIngested(config.dataset, request);
  if (missing === undefined) {
    log.info({ dataset: config.dataset }, 'the dataset is already ingested: training starts');
    return;
  }
  log.info({ source: request.source, dataset: config.dataset, why: missing }, 'ingesting the dataset before training');
  const progress: IngestProgress = { imagesDone: 0, imagesTotal: 0, shardsWritten: 0 };
  const server =
    options.serve === undefined ? undefined : await serveIngestStatus(config.runId, progress, options.serve);
  if (server !== undefined) options.onServing?.(server.url);
  try {
    await runIngest(config, request, progress, log, options.ingest ?? ingest, options.now ?? Date.now);
  } finally {
    await server?.close();
  }
}

/** The run's own downscaling, else what `ringtrain train` does for the run's image size. */
function maxResolutionOf(config: RunConfig, request: IngestRequest): number {
  return request.maxResolution ?? defaultMaxResolution(trainingImageSize(config));
}

async function runIngest(
  config: RunConfig,
  request: IngestRequest,
  progress: IngestProgress,
  log: Logger,
  ingestDataset: typeof ingest,
  now: () => number
): Promise<void> {
  const started = now();
  let lastLogged = started;
  const onEvent = (event: IngestEvent): void => {
    if (event.type === 'scanned') {
      progress.imagesTotal = event.images;
      log.info(
        { images: event.images, classes: event.classes, decodes: event.decodes, decodesWhy: event.decodesReason },
        'ingest: source scanned'
      );
      if (event.ignoredFiles.length > 0) {
        log.warn(
          { ignored: event.ignoredFiles.length, first: event.ignoredFiles[0] },
          'ingest: ignored files that are not JPEG, PNG or WebP'
        );
      }
    } else if (event.type === 'corrupt') {
      log.warn({ path: event.path, reason: event.reason }, 'ingest: skipped a corrupt image');
    } else {
      progress.imagesDone = event.imagesDone;
      progress.shardsWritten = event.shardsUploaded + event.shardsSkipped;
      if (now() - lastLogged >= progressLogIntervalMs) {
        lastLogged = now();
        log.info(
          {
            imagesDone: event.imagesDone,
            imagesTotal: event.imagesTotal,
            shardsUploaded: event.shardsUploaded,
            shardsSkipped: event.shardsSkipped
          },
          'ingest: progress'
        );
      }
    }
  };
  try {
    const summary = await ingestDataset({
      source: request.source,
      to: config.dataset,
      valFraction: request.valFraction,
      seed: request.seed,
      maxResolution: maxResolutionOf(config, request),
      onEvent
    });
    log.info(
      {
        classes: summary.manifest.classes.length,
        train: summary.manifest.splits.train.count,
        val: summary.manifest.splits.val.count,
        shardsUploaded: summary.shardsUploaded,
        shardsSkipped: summary.shardsSkipped,
        corrupt: summary.corrupt.length,
        seconds: Math.round((now() - started) / 1000)
      },
      'ingest: done'
    );
  } catch (error) {
    throw new DatasetIngestError(
      `ingesting ${request.source} into ${config.dataset} failed: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error }
    );
  }
}

/**
 * While it ingests, the coordinator answers on its HTTP port already: `/status` says how far the ingest is, so
 * the operator sees progress (and does not take a long ingest for a stall), and `/healthz` says the process is
 * alive, so its Service routes to it. Workers find nothing on the gRPC port yet, and wait.
 */
async function serveIngestStatus(
  runId: string,
  progress: IngestProgress,
  where: HttpListenOptions
): Promise<{ url: string; close(): Promise<void> }> {
  const { server, address } = await listenHttp(where, (request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path === '/healthz')
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok: ingesting the dataset\n');
    else if (path === '/status') {
      response
        .writeHead(200, { 'content-type': 'application/json' })
        .end(`${JSON.stringify({ runId, state: 'ingesting', lastStep: null, ingest: progress })}\n`);
    } else
      response
        .writeHead(503, { 'content-type': 'text/plain', 'retry-after': '10' })
        .end('the coordinator is ingesting the dataset: /status says how far\n');
  });
  return { url: address, close: () => stopHttpServer(server) };
}

/**
 * Why the dataset URI cannot be trained on as it is (no manifest, an unreadable one, shards gone), or
 * undefined when it holds a complete dataset ingested as the run asks. One ingested differently is an error,
 * not something to overwrite: another run may be training on it.
 */
async function whyNotIngested(dataset: string, request: IngestRequest): Promise<string | undefined> {
  let manifest: Manifest;
  try {
    ({ manifest } = await loadManifest(dataset));
  } catch (error) {
    if (isNotFound(error)) return 'no manifest.json yet';
    if (error instanceof StoreError)
      throw new DatasetIngestError(`cannot read ${dataset}: ${error.message}`, { cause: error });
    return `its manifest.json is unusable (${error instanceof Error ? error.message : String(error)})`;
  }
  if (manifest.ingest.seed !== request.seed || manifest.ingest.valFraction !== request.valFraction) {
    throw new DatasetIngestError(
      `${dataset} already holds a dataset split with seed ${manifest.ingest.seed} and valFraction ${manifest.ingest.valFraction}, but this run asks for seed ${request.seed} and valFraction ${request.valFraction}: ingest into another URI, or delete that dataset first`
    );
  }
  const store = openStore(dataset);
  const shards = [...manifest.splits.train.shards, ...manifest.splits.val.shards];
  // A few requests at a time: a large dataset has thousands of shards, and this runs before every attempt.
  for (let start = 0; start < shards.length; start += 16) {
    const batch = shards.slice(start, start + 16);
    const found = await Promise.all(batch.map((shard) => store.stat(shard.key)));
    const gone = batch.find((shard, i) => found[i]?.size !== shard.bytes);
    if (gone !== undefined) return `shard ${gone.key} of its manifest is missing or has the wrong size`;
  }
  return undefined;
}
