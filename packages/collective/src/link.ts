import http2 from 'node:http2';
import { status } from '@grpc/grpc-js';
import type { BufferPool } from './buffer-pool.js';
import { FRAME_HEADER_BYTES } from './frame.js';
import { clientTlsOptions, type TlsFiles } from './tls.js';

/**
 * The Link call of collective.proto, spoken directly on node:http2 rather than through grpc-js.
 *
 * It is the gRPC protocol all the same (an HTTP/2 POST of `application/grpc`, length-prefixed protobuf
 * messages, `grpc-status` trailers), so a grpc-js client or server can still talk to a rank. What the direct
 * path buys is the bulk data: grpc-js copies every message twice into fresh buffers (once to prefix it on
 * send, once to reassemble it on receive), which on a 2-core machine cost more than the wire itself
 * (docs/benchmarks.md). Here a sender hands HTTP/2 the values where they lie, and a receiver reassembles
 * each message into a pooled buffer it reuses.
 */
export const GRPC_PREFIX_BYTES = 5;
/** gRPC's message prefix and the frame's fixed header: a payload starts this far into a wire message. */
export const WIRE_HEADER_BYTES = GRPC_PREFIX_BYTES + FRAME_HEADER_BYTES;

/** Writes gRPC's 5-byte message prefix (uncompressed, big-endian length) at `target[offset…]`. */
export function writeMessagePrefix(target: Buffer, offset: number, messageBytes: number): void {
  target[offset] = 0;
  target.writeUInt32BE(messageBytes, offset + 1);
}

/** A gRPC status and message, as carried in trailers or a trailers-only response. */
export interface LinkStatus {
  code: status;
  details: string;
}

const MiB = 1024 * 1024;
/** grpc-js sets the same: Node's default session memory cap stalls sessions that queue megabytes. */
const UNCAPPED_SESSION_MEMORY = Number.MAX_SAFE_INTEGER;

export function statusTrailers(linkStatus: LinkStatus): http2.OutgoingHttpHeaders {
  return { 'grpc-status': String(linkStatus.code), 'grpc-message': encodeURIComponent(linkStatus.details) };
}

function readStatus(headers: http2.IncomingHttpHeaders): LinkStatus | undefined {
  const code = headers['grpc-status'];
  if (typeof code !== 'string') return undefined;
  const message = headers['grpc-message'];
  let details = '';
  if (typeof message === 'string') {
    try {
      details = decodeURIComponent(message);
    } catch {
      details = message;
    }
  }
  return { code: Number(code) as status, details };
}

/** Pings the peer every `intervalMs`; calls `onDead` when one ping stays unanswered for `timeoutMs`. */
export function keepSessionAlive(
  session: http2.Http2Session,
  intervalMs: number,
  timeoutMs: number,
  onDead: (reason: string) => void
): void {
  let pingSentAt: number | undefined;
  let deadTimer: NodeJS.Timeout | undefined;
  const timer = setInterval(() => {
    if (session.destroyed || session.closed) return;
    if (pingSentAt !== undefined) return;
    pingSentAt = Date.now();
    deadTimer = setTimeout(() => {
      onDead(`no answer to an HTTP/2 ping for ${timeoutMs} ms`);
      session.destroy();
    }, timeoutMs);
    deadTimer.unref();
    try {
      session.ping((error) => {
        pingSentAt = undefined;
        clearTimeout(deadTimer);
        if (error !== null && !session.destroyed) onDead(`an HTTP/2 ping failed: ${error.message}`);
      });
    } catch {
      pingSentAt = undefined;
      clearTimeout(deadTimer);
    }
  }, intervalMs);
  timer.unref();
  session.once('close', () => {
    clearInterval(timer);
    clearTimeout(deadTimer);
  });
}

/**
 * Splits a byte stream into gRPC messages, each reassembled into a buffer of `pool` laid out as
 * [prefix][frame header][payload], so the payload is 4-byte aligned and the message can be forwarded as it is.
 */
export class MessageReader {
  private message: Buffer | undefined;
  private messageBytes = 0;
  private filled = 0;
  private readonly prefix = Buffer.alloc(GRPC_PREFIX_BYTES);
  private prefixFilled = 0;
  private broken = false;

  constructor(
    private readonly pool: BufferPool,
    private readonly onMessage: (wire: Buffer) => void,
    /** Called once with the defect when the stream cannot be a Link's: the caller drops the link. */
    private readonly onDefect: (detail: string) => void
  ) {}

  push(chunk: Buffer): void {
    let position = 0;
    while (position < chunk.length && !this.broken) {
      if (this.message === undefined) {
        const take = Math.min(GRPC_PREFIX_BYTES - this.prefixFilled, chunk.length - position);
        chunk.copy(this.prefix, this.prefixFilled, position, position + take);
        this.prefixFilled += take;
        position += take;
        if (this.prefixFilled < GRPC_PREFIX_BYTES) return;
        this.prefixFilled = 0;
        if (this.prefix[0] !== 0)
          return this.breakOff('the peer sent a compressed gRPC message, which a Link never carries');
        const messageBytes = this.prefix.readUInt32BE(1);
        if (messageBytes + GRPC_PREFIX_BYTES > this.pool.bufferBytes) {
          return this.breakOff(
            `the peer sent a message of ${messageBytes} bytes, more than a frame of this group can hold ` +
              `(${this.pool.bufferBytes - GRPC_PREFIX_BYTES}): do all ranks use the same chunkBytes?`
          );
        }
        this.message = this.pool.acquire();
        this.prefix.copy(this.message, 0);
        this.messageBytes = messageBytes;
        this.filled = 0;
      }
      const take = Math.min(this.messageBytes - this.filled, chunk.length - position);
      chunk.copy(this.message, GRPC_PREFIX_BYTES + this.filled, position, position + take);
      this.filled += take;
      position += take;
      if (this.filled === this.messageBytes) {
        const wire = this.message.subarray(0, GRPC_PREFIX_BYTES + this.messageBytes);
        this.message = undefined;
        this.onMessage(wire);
      }
    }
  }

  private breakOff(detail: string): void {
    this.broken = true;
    this.onDefect(detail);
  }
}

/** The sending side of a Link: the server stream of the rank whose right neighbour called it. */
export class DownstreamLink {
  private ended = false;
  private finalStatus: LinkStatus = { code: status.OK, details: '' };

  constructor(private readonly stream: http2.ServerHttp2Stream) {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers(statusTrailers(this.finalStatus)));
  }

  /** Sends one message: its head (prefix and frame header, or the whole message) and, zero-copy, its payload. */
  write(head: Uint8Array, payload: Uint8Array | undefined, done: () => void): void {
    if (this.ended || this.stream.destroyed) {
      done();
      return;
    }
    if (payload === undefined) {
      this.stream.write(head, () => done());
      return;
    }
    this.stream.cork();
    this.stream.write(head);
    this.stream.write(payload, () => done());
    this.stream.uncork();
  }

  /**
   * Calls `listener` if the link goes before this side ended it: the caller cancelled (`cancelled`), or the
   * connection broke.
   */
  onLost(listener: (reason: string, cancelled: boolean) => void): void {
    this.stream.on('close', () => {
      if (this.ended) return;
      const cancelled = this.stream.rstCode === http2.constants.NGHTTP2_CANCEL;
      listener(
        cancelled ? 'it cancelled the link' : `the stream closed (HTTP/2 code ${this.stream.rstCode})`,
        cancelled
      );
    });
    this.stream.on('error', (error: Error) => {
      if (!this.ended) listener(error.message, false);
    });
  }

  /** Ends the link after the queued frames, with `linkStatus` in the trailers (OK for an orderly close). */
  end(linkStatus: LinkStatus = { code: status.OK, details: '' }): void {
    if (this.ended) return;
    this.ended = true;
    this.finalStatus = linkStatus;
    if (!this.stream.destroyed) this.stream.end();
  }
}

export interface UpstreamOptions {
  address: string;
  tls: TlsFiles | undefined;
  /** The request: metadata headers and the serialized LinkRequest. */
  headers: http2.OutgoingHttpHeaders;
  request: Buffer;
  path: string;
  windowBytes: number;
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
  pool: BufferPool;
}

export type LinkOutcome = { linked: UpstreamLink } | { refused: LinkStatus };

export interface UpstreamHandlers {
  /** A complete message after the accepted one; the buffer belongs to the pool. */
  message(wire: Buffer): void;
  /** The peer ended the link: OK for an orderly close, otherwise its reason. */
  ended(linkStatus: LinkStatus): void;
  /** The link broke (connection lost, reset, keepalive). */
  lost(reason: string): void;
  /** The peer sent something no Link carries (an oversized or compressed message); the link is dropped. */
  defect(detail: string): void;
}

/** The receiving side of a Link: the client call this rank made on its left neighbour. */
export class UpstreamLink {
  private handlers: UpstreamHandlers | undefined;
  /** What arrived before `attach` (the peer may start sending in the chunk that accepted the link). */
  private readonly waiting: Buffer[] = [];
  private outcome: { ended: LinkStatus } | { lost: string } | { defect: string } | undefined;

  constructor(
    private readonly session: http2.ClientHttp2Session,
    private readonly stream: http2.ClientHttp2Stream
  ) {}

  attach(handlers: UpstreamHandlers): void {
    this.handlers = handlers;
    for (const wire of this.waiting.splice(0)) handlers.message(wire);
    if (this.outcome !== undefined) this.report(this.outcome);
  }

  deliver(wire: Buffer): void {
    if (this.outcome !== undefined) return;
    if (this.handlers === undefined) this.waiting.push(wire);
    else this.handlers.message(wire);
  }

  settle(outcome: { ended: LinkStatus } | { lost: string } | { defect: string }): void {
    if (this.outcome !== undefined) return;
    this.outcome = outcome;
    if (this.handlers !== undefined) this.report(outcome);
  }

  private report(outcome: { ended: LinkStatus } | { lost: string } | { defect: string }): void {
    if ('ended' in outcome) this.handlers?.ended(outcome.ended);
    else if ('lost' in outcome) this.handlers?.lost(outcome.lost);
    else this.handlers?.defect(outcome.defect);
  }

  /** Drops the link and its connection at once. */
  cancel(): void {
    this.outcome ??= { lost: 'cancelled by this rank' };
    if (!this.stream.destroyed) this.stream.close(http2.constants.NGHTTP2_CANCEL);
    this.session.destroy();
  }
}

function retryableCode(code: status): boolean {
  return code === status.UNAVAILABLE || code === status.ALREADY_EXISTS;
}

export function isRetryable(linkStatus: LinkStatus): boolean {
  return retryableCode(linkStatus.code);
}

/**
 * Calls Link on a peer and waits for its accepted frame (`acceptedFrame` judges the first message). A peer
 * that cannot be reached yet is a refusal with UNAVAILABLE, which the caller retries.
 */
export function openUpstream(
  options: UpstreamOptions,
  acceptedFrame: (wire: Buffer) => string | undefined
): Promise<LinkOutcome> {
  const scheme = options.tls === undefined ? 'http' : 'https';
  return new Promise((resolve) => {
    let link: UpstreamLink | undefined;
    let decided = false;
    const session = http2.connect(`${scheme}://${options.address}`, {
      settings: { initialWindowSize: options.windowBytes, maxFrameSize: 4 * MiB - 1 },
      maxSessionMemory: UNCAPPED_SESSION_MEMORY,
      ...(options.tls === undefined ? {} : clientTlsOptions(options.tls))
    });
    const refuse = (linkStatus: LinkStatus) => {
      if (decided) return;
      decided = true;
      session.destroy();
      resolve({ refused: linkStatus });
    };
    const lose = (reason: string) => {
      if (!decided) refuse({ code: status.UNAVAILABLE, details: reason });
      else link?.settle({ lost: reason });
    };
    session.on('error', (error: Error) => lose(error.message));
    session.on('goaway', (code: number) => {
      if (code !== http2.constants.NGHTTP2_NO_ERROR) lose(`the peer closed the connection (HTTP/2 code ${code})`);
    });
    session.on('close', () => lose('the connection closed'));
    session.once('connect', () => {
      session.setLocalWindowSize(options.windowBytes);
      keepSessionAlive(session, options.keepaliveTimeMs, options.keepaliveTimeoutMs, lose);
    });
    const stream = session.request({
      ':method': 'POST',
      ':path': options.path,
      'content-type': 'application/grpc',
      te: 'trailers',
      ...options.headers
    });
    const prefixed = Buffer.allocUnsafe(GRPC_PREFIX_BYTES + options.request.length);
    writeMessagePrefix(prefixed, 0, options.request.length);
    options.request.copy(prefixed, GRPC_PREFIX_BYTES);
    stream.end(prefixed);
    let trailerStatus: LinkStatus | undefined;
    stream.on('response', (headers) => {
      const trailersOnly = readStatus(headers);
      if (trailersOnly !== undefined && trailersOnly.code !== status.OK) trailerStatus = trailersOnly;
    });
    stream.on('trailers', (trailers) => (trailerStatus = readStatus(trailers)));
    const reader = new MessageReader(
      options.pool,
      (wire) => {
        if (link !== undefined) {
          link.deliver(wire);
          return;
        }
        const problem = acceptedFrame(wire);
        options.pool.release(wire);
        if (problem !== undefined) {
          stream.close(http2.constants.NGHTTP2_CANCEL);
          refuse({ code: status.FAILED_PRECONDITION, details: problem });
          return;
        }
        decided = true;
        link = new UpstreamLink(session, stream);
        resolve({ linked: link });
      },
      (defect) => {
        if (link === undefined) refuse({ code: status.FAILED_PRECONDITION, details: defect });
        else link.settle({ defect });
        stream.close(http2.constants.NGHTTP2_PROTOCOL_ERROR);
      }
    );
    stream.on('data', (chunk: Buffer) => reader.push(chunk));
    stream.on('error', (error: Error) => lose(error.message));
    stream.on('close', () => {
      const ended =
        trailerStatus ??
        (stream.rstCode === http2.constants.NGHTTP2_NO_ERROR
          ? undefined
          : { code: status.UNAVAILABLE, details: `the stream was reset (HTTP/2 code ${stream.rstCode})` });
      if (!decided) {
        refuse(ended ?? { code: status.UNAVAILABLE, details: 'the link ended before it was accepted' });
        return;
      }
      if (ended === undefined) link?.settle({ lost: 'the link ended without a gRPC status' });
      else link?.settle({ ended });
    });
  });
}
