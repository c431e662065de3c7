import { MAX_WORLD_SIZE, RUN_IDENTITY_SERVER_NAME } from '@ringtrain/proto';
import { Agent, fetch, type Response } from 'undici';
import { z } from 'zod';
import { checkpointsUri, type TrainingRun } from '../api/training-run.js';
import type { CoordinatorProgress, CoordinatorReport, RunPlanSummary } from '../reconcile/plan.js';
import { COORDINATOR_HTTP_PORT, names } from '../resources/names.js';
import type { RunIdentityIssuer } from '../resources/run-identity.js';

/** Reads one run's progress; undefined when the coordinator cannot say (not up yet, unreachable). */
export type ProgressSource = (run: TrainingRun) => Promise<CoordinatorReport | undefined>;

// Only the fields the status shows, leniently: a newer coordinator may add fields, never break the operator.
const CoordinatorStatusSchema = z.object({
  lastStep: z
    .object({
      epoch: z.number(),
      globalStep: z.number(),
      loss: z.number().optional(),
      accuracy: z.number().optional(),
      imagesPerSecond: z.number().optional()
    })
    .optional()
    .nullable(),
  checkpoints: z.array(z.object({ key: z.string(), globalStep: z.number(), at: z.string().optional() })).optional(),
  // Served while the coordinator ingests the run's dataset, before it trains.
  ingest: z
    .object({ imagesDone: z.int().min(0), imagesTotal: z.int().min(0), shardsWritten: z.int().min(0) })
    .optional(),
  // Workers its heartbeat watchdog declared hung (packages/coordinator HungWorker): the operator replaces their pods.
  hungWorkers: z
    .array(
      z.object({
        workerId: z.string().max(253),
        rank: z.int().min(0),
        since: z.string().max(64),
        reason: z.string().max(4096)
      })
    )
    .max(MAX_WORLD_SIZE)
    .optional(),
  // packages/coordinator's RunPlan, once the dataset has been read.
  plan: z
    .object({
      dataset: z.object({ classes: z.array(z.string()), trainImages: z.int().min(0), valImages: z.int().min(0) }),
      workers: z.int().min(1),
      batchPerWorker: z.int().min(1),
      globalBatch: z.int().min(1),
      iterationsPerEpoch: z.int().min(0),
      epochs: z.int().min(0),
      totalIterations: z.int().min(0),
      optimizer: z.object({ kind: z.string(), learningRate: z.number(), schedule: z.string() })
    })
    .nullish()
});

type CoordinatorPlan = NonNullable<z.output<typeof CoordinatorStatusSchema>['plan']>;

/** The plan in one line of the crash course's words, for an event (the full text is in the coordinator's log). */
function summarizePlan(plan: CoordinatorPlan): RunPlanSummary {
  const { dataset } = plan;
  const optimizer = `${plan.optimizer.kind === 'adam' ? 'Adam' : plan.optimizer.kind.toUpperCase()} at learning rate ${plan.optimizer.learningRate} (${plan.optimizer.schedule})`;
  return {
    summary:
      `${dataset.classes.length} classes; ${dataset.trainImages} training and ${dataset.valImages} validation images; ` +
      `${plan.workers} workers × ${plan.batchPerWorker} images = global batch ${plan.globalBatch}; ` +
      `${plan.iterationsPerEpoch} iterations per epoch × ${plan.epochs} epochs = ${plan.totalIterations} iterations; ${optimizer}`,
    classes: dataset.classes.length,
    trainImages: dataset.trainImages,
    valImages: dataset.valImages,
    globalBatch: plan.globalBatch,
    iterationsPerEpoch: plan.iterationsPerEpoch,
    totalIterations: plan.totalIterations
  };
}

/**
 * Maps the coordinator's /status JSON (packages/coordinator RunStatus, or its ingest progress) to what the
 * TrainingRun shows; undefined when it says nothing the status shows yet, or nothing this schema understands.
 */
export function progressFromCoordinatorStatus(json: unknown, checkpointBase: string): CoordinatorReport | undefined {
  try {
    return coordinatorReport(json, checkpointBase);
  } catch (error) {
    if (error instanceof CoordinatorStatusError) return undefined;
    throw error;
  }
}

/** As progressFromCoordinatorStatus, but a body of another shape is a CoordinatorStatusError naming the field. */
function coordinatorReport(json: unknown, checkpointBase: string): CoordinatorReport | undefined {
  const parsed = CoordinatorStatusSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CoordinatorStatusError(
      'malformed',
      `is not the coordinator's /status: ${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`
    );
  }
  const { ingest, plan, hungWorkers } = parsed.data;
  const progress = trainingProgress(parsed.data, checkpointBase);
  const report: CoordinatorReport = {
    ...(progress ? { progress } : {}),
    ...(!progress && ingest
      ? {
          ingest: {
            imagesDone: ingest.imagesDone,
            imagesTotal: ingest.imagesTotal,
            shardsWritten: ingest.shardsWritten
          }
        }
      : {}),
    ...(plan ? { plan: summarizePlan(plan) } : {}),
    ...(hungWorkers && hungWorkers.length > 0
      ? { hung: hungWorkers.map(({ workerId, rank, since, reason }) => ({ workerId, rank, since, reason })) }
      : {})
  };
  return Object.keys(report).length === 0 ? undefined : report;
}

function trainingProgress(
  status: z.output<typeof CoordinatorStatusSchema>,
  checkpointBase: string
): CoordinatorProgress | undefined {
  const step = status.lastStep;
  if (!step) return undefined;
  const last = status.checkpoints?.at(-1);
  return {
    epoch: step.epoch,
    step: step.globalStep,
    ...(step.loss !== undefined ? { loss: step.loss } : {}),
    ...(step.accuracy !== undefined ? { accuracy: step.accuracy } : {}),
    ...(step.imagesPerSecond !== undefined ? { imagesPerSecond: step.imagesPerSecond } : {}),
    ...(last
      ? {
          lastCheckpoint: {
            uri: `${checkpointBase.replace(/\/+$/, '')}/${last.key}`,
            step: last.globalStep,
            ...(last.at ? { time: last.at } : {})
          }
        }
      : {})
  };
}

/**
 * Why the coordinator's /status gave nothing: `unreachable` (not up yet, or gone) is expected around starts
 * and restarts; the others mean the coordinator answered with something the operator will not read.
 */
export type CoordinatorStatusErrorCode = 'unreachable' | 'http' | 'timeout' | 'too-large' | 'malformed';

export class CoordinatorStatusError extends Error {
  override readonly name = 'CoordinatorStatusError';
  constructor(
    readonly code: CoordinatorStatusErrorCode,
    message: string
  ) {
    super(message);
  }
}

/**
 * The most of /status the operator reads. The coordinator runs the user's image, so its answer is bounded
 * like any input from outside. Its largest legitimate part is the epoch history (~0.4 KB an epoch), so 4 MiB
 * holds the spec's 10,000 epochs; the operator reads a few runs at once and keeps none of the body.
 */
export const MAX_STATUS_BYTES = 4 * 1024 * 1024;
/**
 * Headers and the whole body within this long, or the read is abandoned (the next poll tries again). The read
 * happens inside a reconcile, so a coordinator that hangs holds one of the operator's reconcile workers this
 * long; the coordinator serves /status from memory on an event loop that never trains, so 2 s is ample.
 */
export const STATUS_TIMEOUT_MS = 2000;

export interface StatusReadOptions {
  readonly maxBytes?: number;
  readonly timeoutMs?: number;
}

/** What reading a coordinator with the run's identity takes: its token, and its CA to check the certificate. */
export interface CoordinatorCredentials {
  readonly token: string;
  readonly ca: string;
}

/**
 * GETs a coordinator's /status and parses its JSON, reading at most `maxBytes` within `timeoutMs` (headers
 * and body both): past either the connection is dropped and a CoordinatorStatusError says which bound it hit.
 */
export async function readCoordinatorStatus(
  url: string,
  options: StatusReadOptions & { credentials?: CoordinatorCredentials } = {}
): Promise<unknown> {
  const maxBytes = options.maxBytes ?? MAX_STATUS_BYTES;
  const timeoutMs = options.timeoutMs ?? STATUS_TIMEOUT_MS;
  const signal = AbortSignal.timeout(timeoutMs);
  const timedOut = () => new CoordinatorStatusError('timeout', `${url} did not answer in full within ${timeoutMs} ms`);
  const credentials = options.credentials;
  // The coordinator's certificate is the run's own, checked against the run's CA under the name every pod carries.
  const dispatcher = credentials
    ? new Agent({ connect: { ca: credentials.ca, servername: RUN_IDENTITY_SERVER_NAME } })
    : undefined;
  let response: Response;
  try {
    response = await fetch(url, {
      signal,
      headers: {
        accept: 'application/json',
        ...(credentials ? { authorization: `Bearer ${credentials.token}` } : {})
      },
      ...(dispatcher ? { dispatcher } : {})
    });
  } catch (error) {
    await dispatcher?.destroy().catch(() => undefined);
    if (signal.aborted) throw timedOut();
    throw new CoordinatorStatusError('unreachable', `${url} is unreachable: ${describe(error)}`);
  }
  try {
    return await readBody(url, response, maxBytes, signal, timedOut);
  } finally {
    await dispatcher?.close().catch(() => undefined);
  }
}

async function readBody(
  url: string,
  response: Response,
  maxBytes: number,
  signal: AbortSignal,
  timedOut: () => CoordinatorStatusError
): Promise<unknown> {
  const tooLarge = () =>
    new CoordinatorStatusError(
      'too-large',
      `${url} answered with more than ${maxBytes} bytes; the operator reads at most that much`
    );
  if (!response.ok) {
    await response.body?.cancel().catch(() => undefined);
    throw new CoordinatorStatusError('http', `${url} answered HTTP ${response.status}`);
  }
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw tooLarge();
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = response.body?.getReader();
  try {
    for (;;) {
      const { done, value } = reader ? await reader.read() : { done: true, value: undefined };
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader?.cancel().catch(() => undefined);
        throw tooLarge();
      }
      chunks.push(value);
    }
  } catch (error) {
    if (error instanceof CoordinatorStatusError) throw error;
    if (signal.aborted) throw timedOut();
    throw new CoordinatorStatusError('unreachable', `${url} broke off its answer: ${describe(error)}`);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new CoordinatorStatusError(
      'malformed',
      `${url} answered with a body that is not JSON (${describe(error)}): ${JSON.stringify(text.slice(0, 80))}`
    );
  }
}

function describe(error: unknown): string {
  const cause = (error as { cause?: unknown } | null)?.cause;
  const message = error instanceof Error ? error.message : String(error);
  return cause instanceof Error ? `${message} (${cause.message})` : message;
}

export interface HttpProgressSourceOptions extends StatusReadOptions {
  /** A pino logger, or anything with its (fields, message) calls. */
  readonly logger?: { debug(fields: object, message: string): void; warn(fields: object, message: string): void };
  /** The run's /status URL; default: its coordinator Service in the cluster. */
  readonly url?: (run: TrainingRun) => string;
  /** With it, /status is read over HTTPS with the run's token, the certificate checked against the run's CA. */
  readonly identity?: RunIdentityIssuer;
}

/** The in-cluster coordinator Service: https://<run>-coordinator.<namespace>.svc:8080/status (http without TLS). */
export function coordinatorStatusUrl(run: TrainingRun, scheme: 'http' | 'https' = 'https'): string {
  return `${scheme}://${names.coordinatorService(run.metadata.name)}.${run.metadata.namespace ?? 'default'}.svc:${COORDINATOR_HTTP_PORT}/status`;
}

/**
 * Reads each run's coordinator /status, bounded in size and time and checked against its schema. Nothing it
 * reads can fail a reconcile: a coordinator not up yet is logged at debug; one that answers with something
 * else at warn, and the report says why (`unreadable`, which a Stalled verdict names). Either way the status
 * keeps the last progress it had.
 */
export function httpProgressSource(options: HttpProgressSourceOptions = {}): ProgressSource {
  const identity = options.identity;
  const url = options.url ?? ((run: TrainingRun) => coordinatorStatusUrl(run, identity ? 'https' : 'http'));
  return async (run) => {
    const where = url(run);
    try {
      const credentials = identity ? { token: identity.token(run), ca: await identity.caCertificate(run) } : undefined;
      return coordinatorReport(
        await readCoordinatorStatus(where, { ...options, ...(credentials ? { credentials } : {}) }),
        checkpointsUri(run)
      );
    } catch (error) {
      if (!(error instanceof CoordinatorStatusError)) throw error;
      const key = `${run.metadata.namespace ?? 'default'}/${run.metadata.name}`;
      const message = error.message.startsWith(where) ? error.message : `${where} ${error.message}`;
      if (error.code === 'unreachable') {
        options.logger?.debug({ run: key, code: error.code }, message);
        return undefined;
      }
      options.logger?.warn({ run: key, code: error.code }, `${message}; the status keeps its last progress`);
      return { unreadable: message };
    }
  };
}
