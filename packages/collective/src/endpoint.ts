import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { formatHostPort, loadProto, sameSecret, type LinkRequest, type LinkRequest__Output } from '@ringtrain/proto';
import { DownstreamLink, GRPC_PREFIX_BYTES, keepSessionAlive, statusTrailers, type LinkStatus } from './link.js';
import { serverTlsOptions, type TlsFiles } from './tls.js';

export const LINK_PATH = '/ringtrain.collective.v1.Collective/Link';

const collectiveService = loadProto('collective.proto')['ringtrain.collective.v1.Collective'] as grpc.ServiceDefinition;
const linkMethod = collectiveService['Link'] as grpc.MethodDefinition<LinkRequest, Buffer>;

/** LinkRequests are small protobuf messages; frames are hand-laid (see frame.ts), so they skip protobuf. */
export const serializeLinkRequest = linkMethod.requestSerialize;
// The loader fills defaults (LOADER_OPTIONS.defaults), so what it decodes has every field: the Output shape.
const deserializeLinkRequest = linkMethod.requestDeserialize as (bytes: Buffer) => LinkRequest__Output;

/** A LinkRequest is a few dozen bytes; a body this large is not one. */
const MAX_REQUEST_BYTES = 64 * 1024;

/** Who this rank is in the group being formed; a Link call must match it exactly to be accepted. */
export interface GroupMembership {
  groupId: string;
  generation: number;
  worldSize: number;
  rank: number;
  token: string;
}

/** Opens the Link call of the right neighbour (the call is answered only then); returns a refusal reason if it already has one. */
export interface LinkAcceptor {
  readonly membership: GroupMembership;
  accept(open: () => DownstreamLink): string | undefined;
}

export interface EndpointOptions {
  /** Interface to listen on; 0.0.0.0 in a pod, 127.0.0.1 on a laptop. */
  host?: string;
  /** 0 picks a free port; read `address` after listening. */
  port?: number;
  tls?: TlsFiles;
  /** HTTP/2 keepalive: ping a linked peer every this often (default 10 s). */
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

/** Answers a call with a status and no messages (gRPC's trailers-only response). */
function refuse(stream: http2.ServerHttp2Stream, linkStatus: LinkStatus): void {
  if (stream.destroyed || stream.headersSent) return;
  stream.respond(
    { ':status': 200, 'content-type': 'application/grpc', ...statusTrailers(linkStatus) },
    { endStream: true }
  );
}

/** The body of a unary gRPC request: one uncompressed length-prefixed message. */
function readRequest(stream: http2.ServerHttp2Stream): Promise<Buffer | string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    stream.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes <= MAX_REQUEST_BYTES) chunks.push(chunk);
    });
    stream.once('end', () => {
      if (bytes > MAX_REQUEST_BYTES) return resolve(`the request of ${bytes} bytes is too large for a LinkRequest`);
      const body = Buffer.concat(chunks);
      if (
        body.length < GRPC_PREFIX_BYTES ||
        body[0] !== 0 ||
        body.readUInt32BE(1) !== body.length - GRPC_PREFIX_BYTES
      ) {
        return resolve('the request is not one uncompressed gRPC message');
      }
      resolve(body.subarray(GRPC_PREFIX_BYTES));
    });
    stream.once('error', () => resolve('the request stream failed'));
  });
}

/**
 * A rank's listening side of the ring: one HTTP/2 server speaking gRPC's Link call, living across
 * generations so a restarted gang can form a new group on the same address. Only the right neighbour of the
 * group being formed may link.
 */
/**
 * What one accepted session may hold in HTTP/2 buffers, in MB (Node's unit). A link's own need is one frame
 * (chunkBytes, at most 16 MiB) plus its flow-control window (32 MiB by default, bounded by the ring's config):
 * 256 MB is five times that, and bounds what any peer that reaches the port can make this process buffer.
 * Node's default (10 MB) would stall a link that queues a few large frames, as grpc-js notes.
 */
export const ACCEPTED_SESSION_MEMORY_MB = 256;

export class CollectiveEndpoint {
  private acceptor: LinkAcceptor | undefined;
  private readonly sessions = new Set<http2.ServerHttp2Session>();

  private constructor(
    private readonly server: http2.Http2Server | http2.Http2SecureServer,
    readonly address: string,
    readonly tls: TlsFiles | undefined
  ) {}

  static async listen(options: EndpointOptions = {}): Promise<CollectiveEndpoint> {
    const host = options.host ?? '127.0.0.1';
    const common = { maxSessionMemory: ACCEPTED_SESSION_MEMORY_MB };
    const server =
      options.tls === undefined
        ? http2.createServer(common)
        : http2.createSecureServer({ ...common, ...serverTlsOptions(options.tls) });
    const routing: { endpoint?: CollectiveEndpoint } = {};
    server.on('session', (session: http2.ServerHttp2Session) => {
      routing.endpoint?.sessions.add(session);
      session.on('error', () => {});
      session.once('close', () => routing.endpoint?.sessions.delete(session));
      keepSessionAlive(
        session,
        options.keepaliveTimeMs ?? 10_000,
        options.keepaliveTimeoutMs ?? DEFAULT_KEEPALIVE_TIMEOUT_MS,
        () => {}
      );
    });
    server.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
      stream.on('error', () => {});
      void routing.endpoint?.handleLink(stream, headers);
    });
    server.on('sessionError', () => {});
    server.on('tlsClientError', () => {});
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', (error: Error) =>
        reject(
          new Error(`the collective cannot listen on ${formatHostPort(host, options.port ?? 0)}: ${error.message}`)
        )
      );
      server.listen(options.port ?? 0, host, () => resolve((server.address() as AddressInfo).port));
    });
    routing.endpoint = new CollectiveEndpoint(server, formatHostPort(host, port), options.tls);
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
      const timer = setTimeout(() => {
        for (const session of this.sessions) session.destroy();
      }, 2_000);
      this.server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      for (const session of this.sessions) session.close();
    });
  }

  private async handleLink(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): Promise<void> {
    if (headers[':path'] !== LINK_PATH) {
      refuse(stream, { code: grpc.status.UNIMPLEMENTED, details: `a collective endpoint serves only ${LINK_PATH}` });
      return;
    }
    const presented = headers['authorization'];
    const unauthenticated = (own: GroupMembership): boolean => {
      if (typeof presented === 'string' && sameSecret(presented, bearer(own.token))) return false;
      refuse(stream, {
        code: grpc.status.UNAUTHENTICATED,
        details: `rank ${own.rank} refused the link: wrong or missing collective token`
      });
      return true;
    };
    // The token is checked before the body is read too, so a caller without it costs no more than its headers.
    if (this.acceptor !== undefined && unauthenticated(this.acceptor.membership)) return;
    const body = await readRequest(stream);
    const acceptor = this.acceptor;
    if (acceptor === undefined) {
      refuse(stream, { code: grpc.status.UNAVAILABLE, details: 'no process group is being formed on this rank yet' });
      return;
    }
    const own = acceptor.membership;
    if (unauthenticated(own)) return;
    if (typeof body === 'string') {
      refuse(stream, { code: grpc.status.INVALID_ARGUMENT, details: `rank ${own.rank} refused the link: ${body}` });
      return;
    }
    let request: LinkRequest__Output;
    try {
      request = deserializeLinkRequest(body);
    } catch (error) {
      refuse(stream, {
        code: grpc.status.INVALID_ARGUMENT,
        details: `rank ${own.rank} refused the link: the LinkRequest does not parse (${(error as Error).message})`
      });
      return;
    }
    const mismatch = describeMismatch(request, own);
    if (mismatch !== undefined) {
      refuse(stream, {
        code: mismatch.retryable ? grpc.status.UNAVAILABLE : grpc.status.FAILED_PRECONDITION,
        details: mismatch.reason
      });
      return;
    }
    if (stream.destroyed) return;
    const refusal = acceptor.accept(() => new DownstreamLink(stream));
    if (refusal !== undefined) refuse(stream, { code: grpc.status.ALREADY_EXISTS, details: refusal });
  }
}

function describeMismatch(
  request: LinkRequest__Output,
  own: GroupMembership
): { reason: string; retryable: boolean } | undefined {
  const prefix = `rank ${own.rank} of group ${own.groupId} generation ${own.generation} refused the link`;
  if (request.groupId !== own.groupId)
    return { reason: `${prefix}: caller is in group ${request.groupId}`, retryable: false };
  if (request.generation < own.generation) {
    return { reason: `${prefix}: caller is at the stale generation ${request.generation}`, retryable: false };
  }
  if (request.generation > own.generation) {
    return { reason: `${prefix}: caller is already at generation ${request.generation}`, retryable: true };
  }
  if (request.worldSize !== own.worldSize) {
    return { reason: `${prefix}: caller expects ${request.worldSize} ranks, not ${own.worldSize}`, retryable: false };
  }
  if (request.toRank !== own.rank)
    return { reason: `${prefix}: caller meant rank ${request.toRank}`, retryable: false };
  const rightNeighbour = (own.rank + 1) % own.worldSize;
  if (request.fromRank !== rightNeighbour) {
    return {
      reason: `${prefix}: only rank ${rightNeighbour} links here, not rank ${request.fromRank}`,
      retryable: false
    };
  }
  return undefined;
}
