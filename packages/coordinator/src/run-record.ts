import { z } from 'zod';
import { isNotFound, type ObjectStore } from '@ringtrain/dataset';
import { checkHmac, withHmac, type RunStateKey } from '@ringtrain/proto';
import type { Logger } from '@ringtrain/protocol';
import type { CheckpointRecord, EpochRecord, RestartRecord } from './records.js';

/**
 * The coordinator's books, kept in the run's output next to the checkpoints, so that a coordinator that
 * restarts (its pod rescheduled, `ringtrain train --resume` after a crash) carries on the run's history and
 * generation numbers instead of starting them afresh. Workers keep the weights; this keeps the story.
 */
export const RUN_RECORD_KEY = 'run-record.json';

const EpochRecordSchema = z.object({
  generation: z.number().int().nonnegative(),
  epoch: z.number().int().nonnegative(),
  trainLoss: z.number(),
  trainAccuracy: z.number(),
  valLoss: z.number(),
  valAccuracy: z.number(),
  valImages: z.number().int().nonnegative(),
  samplesTrained: z.number().int().nonnegative(),
  sampleChecksum: z.string(),
  samplesDropped: z.number().int().nonnegative(),
  seconds: z.number(),
  imagesPerSecond: z.number()
});

const RestartRecordSchema = z.object({ generation: z.number().int(), reason: z.string(), at: z.string() });

const CheckpointRecordSchema = z.object({
  key: z.string(),
  epoch: z.number().int().nonnegative(),
  globalStep: z.number().int().nonnegative(),
  samplesConsumed: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  at: z.string()
});

export const RunRecordSchema = z.object({
  version: z.literal(1),
  runId: z.string().min(1),
  /** 'running' until the run ends; a coordinator that finds 'running' knows its predecessor died. */
  state: z.enum(['running', 'succeeded', 'failed', 'stopped']),
  reason: z.string(),
  /** The last generation started; a successor starts above it so that no message of the old one is mistaken for the new. */
  generation: z.number().int(),
  restarts: z.array(RestartRecordSchema),
  epochs: z.array(EpochRecordSchema),
  checkpoints: z.array(CheckpointRecordSchema),
  startedAt: z.string(),
  updatedAt: z.string(),
  /** HMAC-SHA256 of the other fields with the run's key (RunStateKey), when the run has one. */
  hmac: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional()
});

export type RunRecord = z.infer<typeof RunRecordSchema>;

/** The output holds a record that is not this run's, or not a run record at all. */
export class RunRecordError extends Error {
  override readonly name = 'RunRecordError';
}

/**
 * This run's record in `store`, or undefined when the run has none yet. With the run's key (`key`), a record
 * without a valid HMAC is refused: its history and generation numbers would otherwise be whatever whoever wrote
 * the object wanted.
 */
export async function readRunRecord(
  store: ObjectStore,
  runId: string,
  key?: RunStateKey
): Promise<RunRecord | undefined> {
  let bytes: Buffer;
  try {
    bytes = await store.get(RUN_RECORD_KEY);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new RunRecordError(`${store.uri}/${RUN_RECORD_KEY} is not JSON: delete it to start the run's history afresh`);
  }
  if (key !== undefined) {
    const verdict = checkHmac(json, key);
    if (verdict !== 'valid')
      throw new RunRecordError(
        `${store.uri}/${RUN_RECORD_KEY} ${verdict === 'missing' ? 'carries no HMAC' : "does not carry a valid HMAC with this run's key"}: it was changed, or written by something other than this run; refusing to carry on its history. Delete it to start the run's history afresh`
      );
  }
  const parsed = RunRecordSchema.safeParse(json);
  if (!parsed.success) {
    const problem = parsed.error.issues[0];
    throw new RunRecordError(
      `${store.uri}/${RUN_RECORD_KEY} is not a Ringtrain run record (${problem?.path.join('.') ?? ''}: ${problem?.message ?? ''}): delete it to start the run's history afresh`
    );
  }
  if (parsed.data.runId !== runId) {
    throw new RunRecordError(
      `${store.uri} holds the record of run ${parsed.data.runId}, not of ${runId}: give this run its own output URI`
    );
  }
  return parsed.data;
}

/** Writes the record atomically (the store's put never exposes a prefix), signed with the run's key if it has one. */
export async function writeRunRecord(store: ObjectStore, record: RunRecord, key?: RunStateKey): Promise<void> {
  const { hmac: _unsigned, ...checked } = RunRecordSchema.parse(record);
  const body = key === undefined ? checked : withHmac(checked, key);
  await store.put(RUN_RECORD_KEY, Buffer.from(`${JSON.stringify(body, null, 1)}\n`));
}

/**
 * Writes a run's record to one store, one write after another: each is a whole snapshot and the last one
 * written must be the newest. A failed write is logged, not fatal: the run goes on without its record.
 */
export class RunRecordWriter {
  private writes: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: ObjectStore,
    private readonly log: Pick<Logger, 'warn'>,
    private readonly key?: RunStateKey
  ) {}

  save(record: RunRecord): void {
    this.writes = this.writes
      .then(() => writeRunRecord(this.store, record, this.key))
      .catch((error: unknown) => this.log.warn({ error: String(error) }, 'could not write the run record'));
  }

  /** Resolves once every record saved so far is written (or its failure logged). */
  settled(): Promise<void> {
    return this.writes;
  }
}

/** What a coordinator starts its books with: a recovered record's, else a resumed run's metrics.json's. */
export interface ResumedBooks {
  epochs: EpochRecord[];
  checkpoints: CheckpointRecord[];
  /** Restarts of the run before this coordinator: reported, but not held against its budget. */
  earlierRestarts: RestartRecord[];
  /** Generation numbers continue those of a predecessor, so nothing of its last generation passes for ours. */
  firstGeneration: number;
  /** A run that had already ended stays ended. */
  finished: { state: 'succeeded' | 'failed'; reason: string } | undefined;
}

/**
 * The books a coordinator resumes from its predecessor's `recovered` record; without one, from `previous` (the
 * metrics.json of a run resumed with `--resume`: its epoch history carries on, its restarts count afresh). A
 * record left `running` means the predecessor died in the middle of a generation: that is one more restart.
 */
export function resumeBooks(
  recovered: RunRecord | undefined,
  previous: { epochs: EpochRecord[]; restarts: RestartRecord[] } | undefined,
  now = new Date()
): ResumedBooks {
  if (recovered === undefined) {
    return {
      epochs: previous?.epochs ?? [],
      checkpoints: [],
      earlierRestarts: previous?.restarts ?? [],
      firstGeneration: 0,
      finished: undefined
    };
  }
  const interrupted = recovered.state === 'running' && recovered.generation >= 0;
  return {
    epochs: recovered.epochs,
    checkpoints: recovered.checkpoints,
    earlierRestarts: [
      ...recovered.restarts,
      ...(interrupted
        ? [
            {
              generation: recovered.generation,
              reason: `the coordinator restarted: generation ${recovered.generation} was interrupted`,
              at: now.toISOString()
            }
          ]
        : [])
    ],
    firstGeneration: recovered.generation + 1,
    finished:
      recovered.state === 'succeeded' || recovered.state === 'failed'
        ? { state: recovered.state, reason: recovered.reason }
        : undefined
  };
}
