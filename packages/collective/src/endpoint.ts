import { createHash, timingSafeEqual } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { loadProto, type LinkRequest, type LinkRequest__Output } from '@ringtrain/proto';
import { serverCredentials, type TlsFiles } from './tls.js';

export const LINK_PATH = '/ringtrain.collective.v1.Collective/Link';

const collectiveService = loadProto('collective.proto')['ringtrain.collective.v1.Collective'] as grpc.ServiceDefinition;
const linkMethod = collectiveService['Link'] as grpc.MethodDefinition<LinkRequest, Buffer>;

/** LinkRequests are small protobuf messages; frames are raw Buffers (see frame.ts), so they skip protobuf. */
export const serializeLinkRequest = linkMethod.requestSerialize;
const identity = (bytes: Buffer): Buffer => bytes;
export { identity as deserializeFrame };

/** Who this rank is in the group being formed; a Link call must match it exactly to be accepted. */
export interface GroupMembership {
  groupId: string;
  generation: number;
  worldSize: number;
  rank: number;
  token: string;
}

export type LinkCall = grpc.ServerWritableStream<LinkRequest__Output, Buffer>;

/** Takes the accepted Link call of the right neighbour; returns a refusal reason if it already has one. */
export interface LinkAcceptor {
  readonly membership: GroupMembership;
  accept(call: LinkCall): string | undefined;
}

export interface EndpointOptions {
  /** Interface to listen on; 0.0.0.0 in a pod, 127.0.0.1 on a laptop. */
  host?: string;
  /** 0 picks a free port; read `address` after listening. */
  port?: number;
  tls?: TlsFiles;
  /** HTTP/2 keepalive: ping a linked peer after this much silence (default 10 s). */
  keepaliveTimeMs?: number;
  /**
   * Drop a link whose ping goes unanswered this long (default 10 min). A peer answers pings only between
   * synchronous tasks, so this must exceed the longest synchronous step (a tfjs training step blocks for
   * seconds to minutes); a dead or stalled peer is caught sooner by the operations' progress deadline.
   */
  keepaliveTimeoutMs?: number;
}

export const DEFAULT_KEEPALIVE_TIMEOUT_MS = 10 * 60_000;

export function bearer(token: string): string {
  return `Bearer ${token}`;
}

function sameSecret(presented: string, expected: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

function refuse(call: LinkCall, code: grpc.status, details: string): void {
  call.emit('error', { code, details });
}

/**
 * A rank's listening side of the ring: one gRPC server that lives across generations, so a restarted gang can
 * form a new group on the same address. Only the right neighbour of the group being formed may link.
 */
export class CollectiveEndpoint {
  private acceptor: LinkAcceptor | undefined;

  private constructor(
    private readonly server: grpc.Server,
    readonly address: string,
    readonly tls: TlsFiles | undefined,
  ) {}

  static async listen(options: EndpointOptions = {}): Promise<CollectiveEndpoint> {
    const host = options.host ?? '127.0.0.1';
    const server = new grpc.Server({
      'grpc.max_receive_message_length': 1024 * 1024,
      'grpc.keepalive_time_ms': options.keepaliveTimeMs ?? 10_000,
      'grpc.keepalive_timeout_ms': options.keepaliveTimeoutMs ?? DEFAULT_KEEPALIVE_TIMEOUT_MS,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.http2.min_ping_interval_without_data_ms': Math.min(5_000, options.keepaliveTimeMs ?? 5_000),
    });
    // The handler is registered before the server binds, and the endpoint exists only once it has.
    const routing: { endpoint?: CollectiveEndpoint } = {};
    server.addService(
      { Link: { ...linkMethod, responseSerialize: identity, responseDeserialize: identity } },
      { Link: (call: LinkCall) => routing.endpoint?.handleLink(call) },
    );
    const bindHost = host.includes(':') ? `[${host}]` : host;
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(`${bindHost}:${options.port ?? 0}`, serverCredentials(options.tls), (error, boundPort) =>
        error ? reject(new Error(`the collective cannot listen on ${bindHost}:${options.port ?? 0}: ${error.message}`)) : resolve(boundPort),
      );
    });
    routing.endpoint = new CollectiveEndpoint(server, `${bindHost}:${port}`, options.tls);
    return routing.endpoint;
  }

  /** Routes the next matching Link call to `acceptor` until the returned function is called. */
  expect(acceptor: LinkAcceptor): () => void {
    this.acceptor = acceptor;
    return () => {
      if (this.acceptor === acceptor) this.acceptor = undefined;
    };
  }

  async close(): Promise<void> {
    this.acceptor = undefined;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.server.forceShutdown(), 2_000);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private handleLink(call: LinkCall): void {
    const acceptor = this.acceptor;
    if (acceptor === undefined) {
      refuse(call, grpc.status.UNAVAILABLE, 'no process group is being formed on this rank yet');
      return;
    }
    const own = acceptor.membership;
    const presented = call.metadata.get('authorization')[0];
    if (typeof presented !== 'string' || !sameSecret(presented, bearer(own.token))) {
      refuse(call, grpc.status.UNAUTHENTICATED, `rank ${own.rank} refused the link: wrong or missing collective token`);
      return;
    }
    const request = call.request;
    const mismatch = describeMismatch(request, own);
    if (mismatch !== undefined) {
      refuse(call, mismatch.retryable ? grpc.status.UNAVAILABLE : grpc.status.FAILED_PRECONDITION, mismatch.reason);
      return;
    }
    const refusal = acceptor.accept(call);
    if (refusal !== undefined) refuse(call, grpc.status.ALREADY_EXISTS, refusal);
  }
}

function describeMismatch(
  request: LinkRequest__Output,
  own: GroupMembership,
): { reason: string; retryable: boolean } | undefined {
  const prefix = `rank ${own.rank} of group ${own.groupId} generation ${own.generation} refused the link`;
  if (request.groupId !== own.groupId) return { reason: `${prefix}: caller is in group ${request.groupId}`, retryable: false };
  if (request.generation < own.generation) {
    return { reason: `${prefix}: caller is at the stale generation ${request.generation}`, retryable: false };
  }
  if (request.generation > own.generation) {
    return { reason: `${prefix}: caller is already at generation ${request.generation}`, retryable: true };
  }
  if (request.worldSize !== own.worldSize) {
    return { reason: `${prefix}: caller expects ${request.worldSize} ranks, not ${own.worldSize}`, retryable: false };
  }
  if (request.toRank !== own.rank) return { reason: `${prefix}: caller meant rank ${request.toRank}`, retryable: false };
  const rightNeighbour = (own.rank + 1) % own.worldSize;
  if (request.fromRank !== rightNeighbour) {
    return { reason: `${prefix}: only rank ${rightNeighbour} links here, not rank ${request.fromRank}`, retryable: false };
  }
  return undefined;
}
