import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { ObjectInfo, ObjectStore } from './object-store.js';
import { withRetry, retryDefaults, type RetryOptions } from './retry.js';
import { StoreError } from './store-error.js';

/** Read-only `http(s)://` objects: pretrained weights and other single files published on a web server. */
export class HttpStore implements ObjectStore {
  readonly readOnly = true;

  constructor(
    readonly uri: string,
    /** Default: the process's (`configureRetryDefaults`), read at each call. */
    private readonly retry: RetryOptions | undefined = undefined,
    /** Whole-request limit: a stalled server fails the fetch (and is retried) instead of hanging the caller. */
    private readonly timeoutMs = 300_000
  ) {}

  async get(key: string): Promise<Buffer> {
    const response = await this.fetch(key, 'GET');
    return Buffer.from(await response.arrayBuffer());
  }

  async getStream(key: string): Promise<Readable> {
    const response = await this.fetch(key, 'GET');
    if (!response.body) return Readable.from([]);
    return Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
  }

  put(key: string): Promise<void> {
    return Promise.reject(
      new StoreError(
        'invalid',
        `${this.url(key)} is read-only: write to an s3:// or file:// URI instead`,
        this.url(key)
      )
    );
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    try {
      const response = await this.fetch(key, 'HEAD');
      return { key, size: Number(response.headers.get('content-length') ?? 0) };
    } catch (error) {
      if (error instanceof StoreError && error.code === 'not-found') return undefined;
      throw error;
    }
  }

  list(): Promise<ObjectInfo[]> {
    return Promise.reject(
      new StoreError('invalid', `cannot list ${this.uri}: HTTP has no listing; name an object`, this.uri)
    );
  }

  private url(key: string): string {
    return key === '' ? this.uri : `${this.uri.replace(/\/+$/, '')}/${key.replace(/^\/+/, '')}`;
  }

  private fetch(key: string, method: 'GET' | 'HEAD'): Promise<Response> {
    const url = this.url(key);
    return withRetry(
      async () => {
        let response: Response;
        try {
          response = await fetch(url, { method, redirect: 'follow', signal: AbortSignal.timeout(this.timeoutMs) });
        } catch (error) {
          throw new StoreError(
            'transient',
            `cannot reach ${url}: ${error instanceof Error ? error.message : String(error)}`,
            url,
            { cause: error }
          );
        }
        if (response.ok) return response;
        await response.body?.cancel();
        const status = response.status;
        if (status === 404 || status === 410)
          throw new StoreError('not-found', `no object at ${url} (HTTP ${status}): check the URL`, url);
        if (status === 401 || status === 403)
          throw new StoreError(
            'access-denied',
            `access denied to ${url} (HTTP ${status}): the server needs no credentials we can send; make the object public or copy it to s3://`,
            url
          );
        if (status === 408 || status === 429 || status >= 500)
          throw new StoreError('transient', `HTTP ${status} from ${url}`, url);
        throw new StoreError('invalid', `HTTP ${status} from ${url}`, url);
      },
      this.retry ?? retryDefaults(),
      `web server ${new URL(url).origin}`
    );
  }
}
