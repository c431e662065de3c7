import type { ObjectStore } from '@ringtrain/dataset';
import { encodeEventRecords, type TensorBoardEvent } from './tensorboard-events.js';

/** The run's TensorBoard log directory under its output: `tensorboard --logdir <out>/tb`. */
export const TENSORBOARD_DIR = 'tb';
/** Events reach the store at least this often while training runs (PyTorch's SummaryWriter flushes every 120 s). */
export const DEFAULT_FLUSH_INTERVAL_MS = 30_000;

const FILE_PREFIX = 'events.out.tfevents.';

export interface TensorBoardWriterOptions {
  /** The run's output store; event files go under `tb/`. */
  store: ObjectStore;
  /**
   * The first step this writer logs. A writer that starts past step 1 (a restart from a checkpoint) begins with
   * `SessionLog.START` there, so TensorBoard drops what the failed attempt logged from that step on.
   */
  firstStep: number;
  flushIntervalMs?: number;
  /** A write that failed: TensorBoard's logs never fail a run, the events are kept for the next flush. */
  onError: (error: unknown) => void;
  /** Milliseconds since the Unix epoch (tests). */
  now?: () => number;
}

/**
 * Rank 0's TensorBoard log. Object stores cannot append, so events are buffered and each flush writes them as a
 * new event file: `tb/events.out.tfevents.<seconds>.<milliseconds>.ringtrain.<segment>`. The names sort in the
 * order written, also across writers (a later generation's rank 0 names its files after every file already
 * there, whatever its clock says), which is the order TensorBoard reads a directory's files in; it reads each
 * file once it appears, locally or from `s3://` alike.
 */
export class TensorBoardWriter {
  private buffered: TensorBoardEvent[] = [];
  private segment = 0;
  private lastFlush: number;
  private writing: Promise<void> = Promise.resolve();
  private pendingWrites = 0;
  private readonly now: () => number;
  private readonly flushIntervalMs: number;

  private constructor(
    private readonly options: TensorBoardWriterOptions,
    private readonly stem: string
  ) {
    this.now = options.now ?? Date.now;
    this.flushIntervalMs = options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS;
    this.lastFlush = this.now();
    if (options.firstStep > 1)
      this.buffered.push({ kind: 'session-start', wallTime: this.wallTime(), step: options.firstStep });
  }

  /** A writer whose files sort after those already under `tb/` (a listing that fails only costs that guarantee). */
  static async open(options: TensorBoardWriterOptions): Promise<TensorBoardWriter> {
    const now = (options.now ?? Date.now)();
    let after = 0;
    try {
      for (const object of await options.store.list(`${TENSORBOARD_DIR}/`))
        after = Math.max(after, fileTime(object.key));
    } catch (error) {
      options.onError(error);
    }
    const start = Math.max(now, after + 1);
    const stem = `${FILE_PREFIX}${String(Math.floor(start / 1000)).padStart(10, '0')}.${String(start % 1000).padStart(3, '0')}.ringtrain`;
    return new TensorBoardWriter(options, stem);
  }

  /** Logs scalars at a step; writes the buffered events when the flush interval has passed, without waiting. */
  scalars(step: number, values: Readonly<Record<string, number>>): void {
    if (!Number.isInteger(step) || step < 0)
      throw new RangeError(`a TensorBoard step is a natural number, got ${step}`);
    const finite = Object.fromEntries(Object.entries(values).filter(([, value]) => Number.isFinite(value)));
    if (Object.keys(finite).length === 0) return;
    this.buffered.push({ kind: 'scalars', wallTime: this.wallTime(), step, values: finite });
    if (this.pendingWrites === 0 && this.now() - this.lastFlush >= this.flushIntervalMs) void this.flush();
  }

  /** Writes what is buffered as the next event file; resolves once it and every earlier write are done. */
  flush(): Promise<void> {
    const events = this.buffered;
    this.buffered = [];
    this.lastFlush = this.now();
    if (events.length === 0) return this.writing;
    this.pendingWrites += 1;
    this.writing = this.writing.then(() => this.writeSegment(events)).finally(() => (this.pendingWrites -= 1));
    return this.writing;
  }

  /** Flushes; the writer may still be used afterwards (each flush is a file of its own). */
  close(): Promise<void> {
    return this.flush();
  }

  private async writeSegment(events: TensorBoardEvent[]): Promise<void> {
    const key = `${TENSORBOARD_DIR}/${this.stem}.${String(this.segment).padStart(6, '0')}`;
    try {
      // Every file starts with the version event, as TensorBoard's readers expect of an event file.
      await this.options.store.put(
        key,
        encodeEventRecords([{ kind: 'file-version', wallTime: events[0]!.wallTime }, ...events])
      );
      this.segment += 1;
    } catch (error) {
      this.buffered = [...events, ...this.buffered];
      this.options.onError(error);
    }
  }

  private wallTime(): number {
    return this.now() / 1000;
  }
}

/** The milliseconds in one of our event files' names; 0 for any other file. */
function fileTime(key: string): number {
  const match = /events\.out\.tfevents\.(\d{10})\.(\d{3})\.ringtrain\./.exec(key);
  return match ? Number(match[1]) * 1000 + Number(match[2]) : 0;
}
