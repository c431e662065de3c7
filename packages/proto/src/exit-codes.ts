/**
 * The exit-code contract between the `ringtrain` processes (coordinator, worker, dataset service) and whoever
 * restarts them: the operator, or a local supervisor. The CLI turns every error class it knows into one of
 * these codes (packages/cli/src/errors.ts); the operator reads a failed container's code back through
 * `exitCodeClass` (packages/operator/src/reconcile/failure-policy.ts). docs/operator.md has the table.
 *
 * Why these numbers:
 * - Kubernetes and Kubeflow read 128+n as "killed by signal n" (SIGKILL 137, SIGTERM 143): something outside the
 *   program ended it, and another attempt may succeed. A program must never exit 128+ itself.
 * - 126 and 127 are the shell's "not executable" and "command not found": a broken image, permanent.
 * - 1 is what Node.js exits with on an uncaught exception and 2 what Unix tools exit with on bad usage; we keep
 *   both meanings.
 * - The permanent failures of the program's own input take the sysexits.h names that describe them (65
 *   EX_DATAERR, 66 EX_NOINPUT, 69 EX_UNAVAILABLE, 78 EX_CONFIG), and an outage that outlived the wait takes 75
 *   EX_TEMPFAIL ("try again later"), so tools that know sysexits read them right.
 * - The other retryable faults (network, peer lost, timeout, out of memory) take 80–83, and the run's own failure
 *   verdict 84 (permanent), a block no common tool assigns, so that a code there can only have come from this
 *   contract.
 *
 * Everything not listed in 1–127 is read as permanent (a program we do not know said it failed), as Kubeflow
 * reads it.
 */

/** Exit codes by name. Import these; never write a literal exit code elsewhere. */
export const EXIT_CODES = {
  /** The run finished (or stopped on request). */
  ok: 0,
  /** An error no class below describes: a bug, or a fault not foreseen. Permanent: it would repeat. */
  unexpected: 1,
  /** Bad command-line flags or arguments. */
  usage: 2,
  /** The dataset is invalid or missing: manifest, shards, checksums, images, labels. */
  badData: 65,
  /** The model's weights are invalid or missing: pretrained or checkpointed safetensors, a trained model. */
  badWeights: 66,
  /** The pod was given GPUs on which TensorFlow computes on none: the same node and image fail the same way. */
  noGpu: 69,
  /** The run's configuration is invalid: spec, run.json, environment, a bucket that does not exist or denies access. */
  badConfig: 78,
  /** Object storage stayed unreachable (network errors, 5xx, throttling) past the reconnect deadline. */
  storageUnavailable: 75,
  /** The coordinator or the dataset service stayed unreachable past the reconnect deadline. */
  networkUnavailable: 80,
  /** A peer of the ring went away or refused this rank: its generation is over. */
  peerLost: 81,
  /** An operation made no progress within its timeout: a stalled peer or service. */
  timeout: 82,
  /**
   * Out of memory for a cause a restart clears: TensorFlow's allocator (a GPU shared with a previous attempt's
   * process), or a decode thread over its heap limit. The kernel's OOM kill (OOMKilled) is not this: it repeats
   * with the same limits, and the operator fails it at once.
   */
  outOfMemory: 83,
  /**
   * The run failed as a whole, by the coordinator's verdict: its restart budget is used up, or a rank reported
   * an error no restart fixes. Permanent: the operator's own budget counted the same restarts. The reason
   * (the last failure) is the log's last line.
   */
  runFailed: 84
} as const;

export type ExitCodeName = keyof typeof EXIT_CODES;

export type ExitClass =
  | 'ok'
  | 'unexpected'
  | 'usage'
  | 'bad-data'
  | 'bad-weights'
  | 'no-gpu'
  | 'bad-config'
  | 'storage-unavailable'
  | 'network-unavailable'
  | 'peer-lost'
  | 'timeout'
  | 'out-of-memory'
  | 'run-failed'
  | 'signal'
  | 'unknown';

export interface ExitCodeMeaning {
  readonly code: number;
  readonly class: ExitClass;
  /** Another attempt of the same spec may succeed: restart (within runPolicy.backoffLimit). */
  readonly retryable: boolean;
  /** In words, for status messages and logs. */
  readonly description: string;
  /** The signal number, for 128+n. */
  readonly signal?: number;
}

const MEANINGS: Readonly<Record<number, Omit<ExitCodeMeaning, 'code'>>> = {
  [EXIT_CODES.ok]: { class: 'ok', retryable: false, description: 'finished' },
  [EXIT_CODES.unexpected]: {
    class: 'unexpected',
    retryable: false,
    description: 'unexpected error (a bug, or a fault not classified)'
  },
  [EXIT_CODES.usage]: { class: 'usage', retryable: false, description: 'bad flags or arguments' },
  [EXIT_CODES.badData]: { class: 'bad-data', retryable: false, description: 'invalid or missing dataset' },
  [EXIT_CODES.badWeights]: { class: 'bad-weights', retryable: false, description: 'invalid or missing model weights' },
  [EXIT_CODES.noGpu]: { class: 'no-gpu', retryable: false, description: 'no GPU that TensorFlow computes on' },
  [EXIT_CODES.badConfig]: { class: 'bad-config', retryable: false, description: 'invalid run configuration' },
  [EXIT_CODES.storageUnavailable]: {
    class: 'storage-unavailable',
    retryable: true,
    description: 'object storage unreachable past the reconnect deadline'
  },
  [EXIT_CODES.networkUnavailable]: {
    class: 'network-unavailable',
    retryable: true,
    description: 'coordinator or dataset service unreachable past the reconnect deadline'
  },
  [EXIT_CODES.peerLost]: { class: 'peer-lost', retryable: true, description: 'a peer of the ring was lost' },
  [EXIT_CODES.timeout]: { class: 'timeout', retryable: true, description: 'an operation timed out' },
  [EXIT_CODES.outOfMemory]: {
    class: 'out-of-memory',
    retryable: true,
    description: 'out of memory for a cause a restart clears'
  },
  [EXIT_CODES.runFailed]: {
    class: 'run-failed',
    retryable: false,
    description: 'the run failed: its restart budget is used up or a rank reported a permanent error'
  },
  126: { class: 'unknown', retryable: false, description: 'the command is not executable (a broken image)' },
  127: { class: 'unknown', retryable: false, description: 'the command was not found (a broken image)' }
};

/** What an exit code means under the contract: the operator's and a supervisor's only way to read one. */
export function exitCodeClass(code: number): ExitCodeMeaning {
  if (!Number.isInteger(code) || code < 0 || code > 255)
    return { code, class: 'unknown', retryable: false, description: `exit code ${code} outside 0–255` };
  if (code >= 128)
    return {
      code,
      class: 'signal',
      retryable: true,
      signal: code - 128,
      description: `killed by signal ${code - 128}`
    };
  const known = MEANINGS[code];
  return known
    ? { code, ...known }
    : { code, class: 'unknown', retryable: false, description: `exit code ${code}, which no part of ringtrain uses` };
}

/**
 * How long a process keeps retrying an unreachable dependency (object storage, its coordinator) before it
 * exits with `storageUnavailable` or `networkUnavailable`: long enough for a MinIO or coordinator pod to be
 * rescheduled and restarted (image cached, ~30–120 s), short enough that a real outage frees the GPUs within
 * minutes. The TrainingRun's spec.runPolicy.reconnectDeadlineSeconds and the CLI's --reconnect-deadline
 * default to it; it is defined here only.
 */
export const DEFAULT_RECONNECT_DEADLINE_SECONDS = 300;
