import { createHash } from 'node:crypto';
import { isNotFound, openStore, type ObjectStore } from '@ringtrain/dataset';
import { checkHmac, withHmac, type RunStateKey } from '@ringtrain/proto';
import { z } from 'zod';

/** Where an epoch stands: enough to continue it exactly, and to prove afterwards that no sample was lost. */
export const DataCursorSchema = z.object({
  epoch: z.number().int().min(0),
  /** Samples of `epoch` consumed globally (a whole number of global steps): the plan's resume point. */
  samplesConsumed: z.number().int().min(0),
  /** Sample accounting of the epoch so far, across restarts. */
  trained: z.object({
    count: z.number().int().min(0),
    /** Σ index and Σ index² as decimal strings (exact at any dataset size). */
    indexSum: z.string(),
    indexSquareSum: z.string(),
    lossSum: z.number(),
    correct: z.number().int().min(0),
    seconds: z.number().min(0)
  })
});
export type DataCursor = z.output<typeof DataCursorSchema>;

export const CheckpointPointerSchema = z.object({
  runId: z.string(),
  key: z.string(),
  /** Optimizer steps taken when the checkpoint was written. */
  globalStep: z.number().int().min(0),
  cursor: DataCursorSchema,
  bytes: z.number().int().min(0),
  /** SHA-256 of the checkpoint's bytes, checked before they are used (absent in pointers from before it). */
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
  writtenAt: z.string(),
  /** HMAC-SHA256 of the other fields with the run's key (RunStateKey), when the run has one. */
  hmac: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional()
});
export type CheckpointPointer = z.output<typeof CheckpointPointerSchema>;

/** The pointer's key in the checkpoints directory; checkpoints' keys (`slot-<k>.ckpt`) are relative to it too. */
export const POINTER_KEY = 'latest.json';
/** Pointers written before the store was rooted at the checkpoints directory named keys under the output. */
const LEGACY_KEY_PREFIX = 'checkpoints/';

/** A checkpoint or pointer that is not what this run wrote: refused, as weights from it would spread to every rank. */
export class CheckpointIntegrityError extends Error {
  override readonly name = 'CheckpointIntegrityError';
}

/**
 * Checkpoints in an object store rooted at the run's checkpoints directory (the coordinator's
 * `checkpointsUri(config)`), committed atomically: the checkpoint object is written first (stores write
 * objects whole), then the small pointer object that names it. A crash between the two leaves the previous
 * pointer, which still names a complete checkpoint. The last `keep` checkpoints live in a ring of slots, so
 * old ones are overwritten and nothing needs deleting.
 */
export class CheckpointStore {
  readonly store: ObjectStore;

  /**
   * `key`: the run's state key. With it, every pointer written carries an HMAC, and a pointer without a valid
   * one is refused; the pointer holds the checkpoint's SHA-256, so the checkpoint's bytes are covered too.
   * Without it (a local run, whose token changes at each start), the SHA-256 alone guards against damage.
   */
  constructor(
    directory: string | ObjectStore,
    private readonly keep: number,
    private readonly key?: RunStateKey
  ) {
    this.store = typeof directory === 'string' ? openStore(directory) : directory;
    if (!Number.isInteger(keep) || keep < 1) throw new RangeError(`keep must be a positive integer, got ${keep}`);
  }

  /** The committed checkpoint's pointer, or undefined when this output has none. */
  async latest(): Promise<CheckpointPointer | undefined> {
    let body: Buffer;
    try {
      body = await this.store.get(POINTER_KEY);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      throw new Error(`${this.store.uri}/${POINTER_KEY} is not JSON; delete it to start afresh`);
    }
    if (this.key !== undefined) {
      const verdict = checkHmac(json, this.key);
      if (verdict !== 'valid')
        throw new CheckpointIntegrityError(
          `${this.store.uri}/${POINTER_KEY} ${verdict === 'missing' ? 'carries no HMAC' : "does not carry a valid HMAC with this run's key"}: it was changed, or written by something other than this run (another run, or a version of ringtrain that did not sign); refusing to resume from it. Delete it (and the slot-*.ckpt beside it) to start afresh`
        );
    }
    const parsed = CheckpointPointerSchema.safeParse(json);
    if (!parsed.success) {
      throw new Error(
        `${this.store.uri}/${POINTER_KEY} is not a Ringtrain checkpoint pointer (${parsed.error.issues[0]?.message}); delete it to start afresh`
      );
    }
    const pointer = parsed.data;
    return pointer.key.startsWith(LEGACY_KEY_PREFIX)
      ? { ...pointer, key: pointer.key.slice(LEGACY_KEY_PREFIX.length) }
      : pointer;
  }

  async read(pointer: CheckpointPointer): Promise<Uint8Array> {
    const bytes = await this.store.get(pointer.key);
    if (bytes.length !== pointer.bytes) {
      throw new Error(
        `checkpoint ${this.store.uri}/${pointer.key} has ${bytes.length} bytes, its pointer says ${pointer.bytes}: it was overwritten or damaged`
      );
    }
    // Weights from a changed checkpoint would train on, and spread to every rank: refuse them instead.
    if (this.key !== undefined && pointer.sha256 === undefined)
      throw new CheckpointIntegrityError(
        `the pointer of checkpoint ${this.store.uri}/${pointer.key} records no SHA-256, which a signed run requires`
      );
    if (pointer.sha256 !== undefined && sha256(bytes) !== pointer.sha256) {
      throw new CheckpointIntegrityError(
        `checkpoint ${this.store.uri}/${pointer.key} does not have the SHA-256 its pointer records: it was changed or damaged after it was written; delete ${POINTER_KEY} to start afresh`
      );
    }
    return bytes;
  }

  /** Writes the checkpoint, then commits it by replacing the pointer. */
  async write(runId: string, globalStep: number, cursor: DataCursor, bytes: Uint8Array): Promise<CheckpointPointer> {
    const previous = await this.latest();
    const slot = previous === undefined ? 0 : (slotOf(previous.key) + 1) % this.keep;
    const key = `slot-${slot}.ckpt`;
    await this.store.put(key, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    const unsigned: CheckpointPointer = {
      runId,
      key,
      globalStep,
      cursor,
      bytes: bytes.byteLength,
      sha256: sha256(bytes),
      writtenAt: new Date().toISOString()
    };
    const pointer = this.key === undefined ? unsigned : withHmac(unsigned, this.key);
    await this.store.put(POINTER_KEY, Buffer.from(`${JSON.stringify(pointer, null, 1)}\n`));
    return pointer;
  }
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function slotOf(key: string): number {
  const match = /slot-(\d+)\.ckpt$/.exec(key);
  return match ? Number(match[1]) : -1;
}
