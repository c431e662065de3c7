import type { BufferPool } from './buffer-pool.js';
import { bearer, LINK_PATH, serializeLinkRequest, type CollectiveEndpoint, type GroupMembership } from './endpoint.js';
import { CollectiveTimeoutError, PeerRefusedError, type CollectiveError } from './errors.js';
import { decodeFrame, FRAME_HEADER_BYTES, FrameKind, writeFrameHeader } from './frame.js';
import {
  GRPC_PREFIX_BYTES,
  isRetryable,
  openUpstream,
  WIRE_HEADER_BYTES,
  writeMessagePrefix,
  type DownstreamLink,
  type UpstreamLink
} from './link.js';
import { ringIndex } from './partition.js';

/** The neighbours of `rank` in a ring of `worldSize`: it reads from the left one and writes to the right one. */
export function ringNeighbours(rank: number, worldSize: number): { leftRank: number; rightRank: number } {
  return { leftRank: ringIndex(rank - 1, worldSize), rightRank: ringIndex(rank + 1, worldSize) };
}

export interface RingFormationOptions {
  endpoint: CollectiveEndpoint;
  /** Who this rank is; the right neighbour's Link call must match it, and this rank presents it to the left. */
  membership: GroupMembership;
  /** `host:port` of every rank's endpoint, indexed by rank. */
  peers: readonly string[];
  connectTimeoutMs: number;
  /** HTTP/2 receive window and keepalive of the link to the left neighbour. */
  windowBytes: number;
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
  /** Where messages from the left neighbour are reassembled. */
  receivePool: BufferPool;
  /** The group's failure: aborting it stops the formation at once, with its reason. */
  signal: AbortSignal;
  /**
   * Each link is handed over the moment it is up, before the other one is: the left neighbour may already be
   * sending its first operation's frames, and either link may break while the other is still being formed.
   */
  onUpstream(link: UpstreamLink): void;
  onDownstream(link: DownstreamLink): void;
}

/**
 * Forms this rank's two ring links: calls Link on the left neighbour until it accepts, and waits for the
 * right neighbour to link here, within `connectTimeoutMs`. Resolves with the function that stops routing Link
 * calls to this group (later calls are refused as duplicates until then); on failure it has already stopped.
 */
export async function formRing(options: RingFormationOptions): Promise<() => void> {
  const { membership, peers, connectTimeoutMs, signal } = options;
  const { leftRank, rightRank } = ringNeighbours(membership.rank, membership.worldSize);
  const deadline = Date.now() + connectTimeoutMs;
  let downstreamLinked = false;
  let markDownstreamLinked: () => void = () => {};
  const downstreamReady = new Promise<void>((resolve) => (markDownstreamLinked = resolve));
  const unregister = options.endpoint.expect({
    membership,
    accept: (open) => {
      if (downstreamLinked) return `rank ${membership.rank} already has its right neighbour linked`;
      downstreamLinked = true;
      const link = open();
      options.onDownstream(link);
      link.write(acceptedMessage(), undefined, () => {});
      markDownstreamLinked();
      return undefined;
    }
  });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const what = downstreamLinked
        ? `rank ${leftRank} at ${peers[leftRank]} could not be linked`
        : `rank ${rightRank} (${peers[rightRank]}) never linked to this rank`;
      reject(
        new CollectiveTimeoutError(
          `forming group ${membership.groupId} generation ${membership.generation} took over ${connectTimeoutMs} ms: ${what}`,
          'connect',
          downstreamLinked ? leftRank : rightRank
        )
      );
    }, connectTimeoutMs);
  });
  let onAbort: () => void = () => {};
  const failedMeanwhile = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason as CollectiveError);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    await Promise.race([
      Promise.all([linkUpstream(options, leftRank, deadline), downstreamReady]),
      timedOut,
      failedMeanwhile
    ]);
    return unregister;
  } catch (error) {
    unregister();
    throw error;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
  }
}

/** Calls Link on the left neighbour until it accepts, refuses for good, the deadline passes or the group fails. */
async function linkUpstream(options: RingFormationOptions, leftRank: number, deadline: number): Promise<void> {
  const { membership, signal } = options;
  const address = options.peers[leftRank]!;
  const request = serializeLinkRequest({
    groupId: membership.groupId,
    generation: membership.generation,
    worldSize: membership.worldSize,
    fromRank: membership.rank,
    toRank: leftRank
  });
  let backoffMs = 20;
  for (;;) {
    if (signal.aborted) throw signal.reason;
    const outcome = await openUpstream(
      {
        address,
        tls: options.endpoint.tls,
        path: LINK_PATH,
        headers: { authorization: bearer(membership.token) },
        request,
        windowBytes: options.windowBytes,
        keepaliveTimeMs: options.keepaliveTimeMs,
        keepaliveTimeoutMs: options.keepaliveTimeoutMs,
        pool: options.receivePool
      },
      (wire) => {
        const frame = decodeFrame(wire.subarray(GRPC_PREFIX_BYTES));
        return typeof frame === 'string' || frame.kind !== FrameKind.accepted
          ? 'the peer did not answer with an accepted frame: is it a Ringtrain collective?'
          : undefined;
      }
    );
    if ('linked' in outcome) {
      if (signal.aborted) {
        outcome.linked.cancel();
        throw signal.reason;
      }
      options.onUpstream(outcome.linked);
      return;
    }
    const refusal = outcome.refused;
    if (!isRetryable(refusal)) {
      throw new PeerRefusedError(
        `rank ${leftRank} at ${address} refused this rank: ${refusal.details}`,
        'connect',
        leftRank
      );
    }
    if (Date.now() + backoffMs > deadline) {
      throw new CollectiveTimeoutError(
        `could not link to rank ${leftRank} at ${address} before the connect deadline: ${refusal.details}`,
        'connect',
        leftRank
      );
    }
    await new Promise((resolve) => setTimeout(resolve, backoffMs * (0.5 + Math.random())));
    backoffMs = Math.min(backoffMs * 2, 1_000);
  }
}

/** The first message on a link: tells the right neighbour that its call passed every check, so it is linked. */
function acceptedMessage(): Buffer {
  const accepted = Buffer.allocUnsafe(WIRE_HEADER_BYTES);
  writeMessagePrefix(accepted, 0, FRAME_HEADER_BYTES);
  writeFrameHeader(
    accepted,
    GRPC_PREFIX_BYTES,
    { opSeq: 0, kind: FrameKind.accepted, format: 'bytes', step: 0, elementOffset: 0, elementCount: 0 },
    0
  );
  return accepted;
}
