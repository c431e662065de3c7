import { EXIT_CODES } from '@ringtrain/proto';

/**
 * Errors that the top level turns into an exit code and a message. Commands throw these instead of calling
 * process.exit, so that every command stays testable and cleanup (finally blocks, child processes) runs.
 */
export class ExitError extends Error {
  constructor(
    readonly exitCode: number,
    message: string
  ) {
    super(message);
    this.name = 'ExitError';
  }
}

/** Bad flags or arguments: exit code 2, like most Unix tools. */
export class UsageError extends ExitError {
  constructor(message: string) {
    super(EXIT_CODES.usage, message);
    this.name = 'UsageError';
  }
}

/**
 * The exit code of the contract (@ringtrain/proto's EXIT_CODES, read back by the operator) for an error that
 * reached the top level. Classes are matched by `name` (each sets it, and exit-codes.test.ts proves it for the
 * real classes), so that deciding an exit code does not load TensorFlow, MinIO's client or gRPC.
 *
 * A cause chain is followed: a wrapper such as DatasetIngestError around a transient StoreError is an outage,
 * not bad data. The first retryable class along the chain wins, then the first permanent one; an error that no
 * class describes is `unexpected` (1), permanent.
 */
export function exitCodeFor(error: unknown): number {
  let permanent: number | undefined;
  const seen = new Set<unknown>();
  for (
    let link: unknown = error;
    link !== undefined && link !== null && !seen.has(link);
    link = (link as { cause?: unknown }).cause
  ) {
    seen.add(link);
    const code = ownExitCode(link);
    if (code === undefined) continue;
    if (RETRYABLE.has(code)) return code;
    permanent ??= code;
  }
  return permanent ?? EXIT_CODES.unexpected;
}

const RETRYABLE = new Set<number>([
  EXIT_CODES.storageUnavailable,
  EXIT_CODES.networkUnavailable,
  EXIT_CODES.peerLost,
  EXIT_CODES.timeout,
  EXIT_CODES.outOfMemory
]);

/** Error classes of the packages, by name, whose exit code does not depend on their fields. */
const BY_NAME: Readonly<Record<string, number>> = {
  // The run's configuration or spec: another attempt reads the same one.
  ZodError: EXIT_CODES.badConfig,
  InvalidTrainingRunError: EXIT_CODES.badConfig,
  // `ringtrain operator render`'s flags.
  OperatorUsageError: EXIT_CODES.usage,
  RunConfigResolutionError: EXIT_CODES.badConfig,
  RunRecordError: EXIT_CODES.badConfig,
  WorkerConfigError: EXIT_CODES.badConfig,
  // A shard larger than the whole cache budget (spec.workers.cacheSizeLimit): the next attempt has the same budget.
  ShardTooLargeError: EXIT_CODES.badConfig,
  // The dataset.
  DatasetIngestError: EXIT_CODES.badData,
  ShardChecksumError: EXIT_CODES.badData,
  ShardFormatError: EXIT_CODES.badData,
  ImageDecodeError: EXIT_CODES.badData,
  PlanError: EXIT_CODES.badData,
  // The weights.
  WeightsMismatchError: EXIT_CODES.badWeights,
  SafetensorsError: EXIT_CODES.badWeights,
  TrainedModelError: EXIT_CODES.badWeights,
  GpuUnavailableError: EXIT_CODES.noGpu,
  // The coordinator told the worker that the run failed as a whole.
  RunFailedError: EXIT_CODES.runFailed,
  // The coordinator client gave up waiting (past the reconnect deadline).
  CoordinatorUnavailableError: EXIT_CODES.networkUnavailable
};

/** @ringtrain/collective's CollectiveError codes. */
const COLLECTIVE: Readonly<Record<string, number>> = {
  PEER_LOST: EXIT_CODES.peerLost,
  REFUSED: EXIT_CODES.peerLost,
  CLOSED: EXIT_CODES.peerLost,
  TIMEOUT: EXIT_CODES.timeout,
  // A peer that speaks another protocol, or wrong arguments: a bug or mismatched versions; it would repeat.
  PROTOCOL: EXIT_CODES.unexpected,
  INVALID_ARGUMENT: EXIT_CODES.unexpected
};

/** Node.js system errors of a network that is down or a name that does not resolve (yet). */
const NETWORK_ERRNO = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EPIPE'
]);

const GRPC_UNAVAILABLE = 14;
const GRPC_DEADLINE_EXCEEDED = 4;

function ownExitCode(error: unknown): number | undefined {
  if (error instanceof ExitError) return error.exitCode;
  if (typeof error !== 'object' || error === null) return undefined;
  const { name, code, message } = error as { name?: unknown; code?: unknown; message?: unknown };
  if (name === 'StoreError') {
    // not-found: an object the run reads is missing (the dataset's, or weights, which say so through their own class).
    if (code === 'transient') return EXIT_CODES.storageUnavailable;
    if (code === 'not-found') return EXIT_CODES.badData;
    return EXIT_CODES.badConfig; // no-such-bucket, access-denied, invalid: the spec's URI or credentials
  }
  if (typeof name === 'string' && name in BY_NAME) return BY_NAME[name];
  if (
    typeof code === 'string' &&
    code in COLLECTIVE &&
    typeof name === 'string' &&
    name.endsWith('Error') &&
    'operation' in error
  )
    return COLLECTIVE[code];
  if (code === 'ERR_WORKER_OUT_OF_MEMORY') return EXIT_CODES.outOfMemory; // a decode thread over its heap limit
  if (typeof message === 'string' && /\bOOM when allocating\b/.test(message)) return EXIT_CODES.outOfMemory; // TensorFlow's allocator
  if (typeof code === 'string' && NETWORK_ERRNO.has(code)) return EXIT_CODES.networkUnavailable;
  if (typeof code === 'number' && 'metadata' in error) {
    // A gRPC status (ServiceError): a server that is not there, or did not answer in time.
    if (code === GRPC_UNAVAILABLE) return EXIT_CODES.networkUnavailable;
    if (code === GRPC_DEADLINE_EXCEEDED) return EXIT_CODES.timeout;
  }
  return undefined;
}
