/**
 * Typed failures of the collective. Every one names the operation and, where one is to blame, the peer, so
 * that a coordinator can tell a dead rank from a bug and decide to restart the gang.
 */
export type CollectiveErrorCode = 'PEER_LOST' | 'TIMEOUT' | 'PROTOCOL' | 'REFUSED' | 'CLOSED' | 'INVALID_ARGUMENT';

export abstract class CollectiveError extends Error {
  abstract readonly code: CollectiveErrorCode;
  constructor(
    message: string,
    /** The operation under way, e.g. `allReduce#12`, or `connect`. */
    readonly operation: string,
    /** The rank this error blames, when one is to blame. */
    readonly peerRank?: number,
    options?: ErrorOptions
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A peer's connection broke, or it aborted the group: the generation is over. */
export class PeerLostError extends CollectiveError {
  readonly code = 'PEER_LOST';
}

/** No progress before the deadline: a peer is stalled, overloaded or unreachable. */
export class CollectiveTimeoutError extends CollectiveError {
  readonly code = 'TIMEOUT';
}

/** A peer sent something this rank did not expect: mismatched calls across ranks, or a bug. */
export class ProtocolError extends CollectiveError {
  readonly code = 'PROTOCOL';
}

/** A peer refused this rank (wrong token, another group, generation or world size). */
export class PeerRefusedError extends CollectiveError {
  readonly code = 'REFUSED';
}

/** The group was closed or had already failed; make a new group (next generation). */
export class GroupClosedError extends CollectiveError {
  readonly code = 'CLOSED';
}

/** The caller passed arguments the operation cannot take (checked before anything is sent). */
export class CollectiveArgumentError extends CollectiveError {
  readonly code = 'INVALID_ARGUMENT';
}

/** A CollectiveError as it crosses a thread boundary (structured clone keeps neither class nor prototype). */
export interface SerializedCollectiveError {
  code: CollectiveErrorCode | undefined;
  name: string;
  message: string;
  operation: string;
  peerRank?: number;
  cause?: SerializedCollectiveError;
}

const ERROR_CLASSES: Record<
  CollectiveErrorCode,
  new (message: string, operation: string, peerRank?: number, options?: ErrorOptions) => CollectiveError
> = {
  PEER_LOST: PeerLostError,
  TIMEOUT: CollectiveTimeoutError,
  PROTOCOL: ProtocolError,
  REFUSED: PeerRefusedError,
  CLOSED: GroupClosedError,
  INVALID_ARGUMENT: CollectiveArgumentError
};

export function serializeCollectiveError(error: unknown): SerializedCollectiveError {
  if (error instanceof CollectiveError) {
    return {
      code: error.code,
      name: error.name,
      message: error.message,
      operation: error.operation,
      ...(error.peerRank !== undefined ? { peerRank: error.peerRank } : {}),
      ...(error.cause !== undefined ? { cause: serializeCollectiveError(error.cause) } : {})
    };
  }
  if (error instanceof Error) return { code: undefined, name: error.name, message: error.message, operation: '' };
  return { code: undefined, name: 'Error', message: String(error), operation: '' };
}

/**
 * The same class, code, operation, peer and cause on this side of the boundary. A failure that was no
 * CollectiveError (a bug, a thread that died) comes back as a plain Error with its name and message.
 */
export function reviveCollectiveError(serialized: SerializedCollectiveError): Error {
  const cause = serialized.cause === undefined ? undefined : reviveCollectiveError(serialized.cause);
  const options = cause === undefined ? undefined : { cause };
  if (serialized.code === undefined || !(serialized.code in ERROR_CLASSES)) {
    const error = new Error(serialized.message, options);
    error.name = serialized.name;
    return error;
  }
  return new ERROR_CLASSES[serialized.code](serialized.message, serialized.operation, serialized.peerRank, options);
}
