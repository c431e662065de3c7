import { z } from 'zod';
import { isNotFound, type ObjectStore } from '@ringtrain/dataset';

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
  updatedAt: z.string()
});

export type RunRecord = z.infer<typeof RunRecordSchema>;

/** The output holds a record that is not this run's, or not a run record at all. */
export class RunRecordError extends Error {
  override readonly name = 'RunRecordError';
}

/** This run's record in `store`, or undefined when the run has none yet. */
export async function readRunRecord(store: ObjectStore, runId: string): Promise<RunRecord | undefined> {
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

/** Writes the record atomically (the store's put never exposes a prefix). */
export async function writeRunRecord(store: ObjectStore, record: RunRecord): Promise<void> {
  await store.put(RUN_RECORD_KEY, Buffer.from(`${JSON.stringify(RunRecordSchema.parse(record), null, 1)}\n`));
}
