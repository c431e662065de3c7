import { buffer } from 'node:stream/consumers';
import type { Readable } from 'node:stream';
import { Client, S3Error, type ClientOptions } from 'minio';
import { joinKey, type ObjectInfo, type ObjectStore } from './object-store.js';
import { withRetry, retryDefaults, type RetryOptions } from './retry.js';
import type { S3Config } from './s3-config.js';
import { RefreshingCredentials } from './s3-credentials.js';
import { StoreError } from './store-error.js';
import { deadline, idleGuard } from './timeouts.js';

export type S3Timeouts = {
  /** Until response headers (and whole answers of small requests). */
  requestMs: number;
  /** Longest silence while a body streams in. */
  idleMs: number;
  /** Whole PUT of one object (a 64 MiB shard over a slow link). */
  putMs: number;
};

export const defaultS3Timeouts: S3Timeouts = { requestMs: 30_000, idleMs: 60_000, putMs: 600_000 };

const transientCodes = new Set([
  'InternalError',
  'ServiceUnavailable',
  'SlowDown',
  'RequestTimeout',
  'RequestTimeTooSkewed',
  'XMinioServerNotInitialized',
  'XMinioStorageFull',
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET'
]);

/** `s3://bucket/prefix` through the minio client: MinIO in our clusters, or any S3-compatible server. */
export class S3Store implements ObjectStore {
  readonly readOnly = false;
  readonly uri: string;
  private readonly client: Client;

  constructor(
    readonly bucket: string,
    readonly prefix: string,
    readonly config: S3Config,
    /** Default: the process's (`configureRetryDefaults`), read at each call. */
    private readonly retry: RetryOptions | undefined = undefined,
    private readonly timeouts: S3Timeouts = defaultS3Timeouts
  ) {
    this.uri = `s3://${bucket}/${prefix}`.replace(/\/$/, '');
    const endpoint = new URL(config.endpoint);
    const useSSL = endpoint.protocol === 'https:';
    this.client = new Client({
      endPoint: endpoint.hostname,
      port: endpoint.port ? Number(endpoint.port) : useSSL ? 443 : 80,
      useSSL,
      region: config.region,
      pathStyle: config.pathStyle,
      ...('credentialSource' in config
        ? {
            // The same class at run time (minio's ESM build); its CommonJS typings declare a twin the compiler
            // cannot unify with the ESM one.
            credentialsProvider: new RefreshingCredentials(config.credentialSource) as unknown as NonNullable<
              ClientOptions['credentialsProvider']
            >
          }
        : {
            accessKey: config.accessKey,
            secretKey: config.secretKey,
            ...(config.sessionToken ? { sessionToken: config.sessionToken } : {})
          })
    });
  }

  get(key: string): Promise<Buffer> {
    // The body is read inside the retry so that a connection dropped or stalled mid-object is retried too.
    return this.call(key, async (objectKey) => buffer(await this.openBody(objectKey)), Infinity);
  }

  getStream(key: string): Promise<Readable> {
    return this.call(key, (objectKey) => this.openBody(objectKey), Infinity);
  }

  async put(key: string, body: Buffer): Promise<void> {
    // S3 makes an object visible only once its PUT completes, so a single PUT is already atomic.
    await this.call(
      key,
      (objectKey) => this.client.putObject(this.bucket, objectKey, body, body.length),
      this.timeouts.putMs
    );
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    try {
      const info = await this.call(key, (objectKey) => this.client.statObject(this.bucket, objectKey));
      return { key, size: info.size };
    } catch (error) {
      if (error instanceof StoreError && error.code === 'not-found') return undefined;
      throw error;
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const base = joinKey(this.prefix, '');
    // Listed under `base/`, never `base`: the store s3://b/flowers must not list s3://b/flowers-v2's keys.
    const full = base === '' ? prefix : `${base}/${prefix.replace(/^\/+/, '')}`;
    const items = await this.call(prefix, async () => {
      const found: ObjectInfo[] = [];
      for await (const item of this.client.listObjectsV2(this.bucket, full, true)) {
        if (item.name === undefined) continue;
        const relative = base === '' ? item.name : item.name.slice(base.length + 1);
        found.push({ key: relative, size: item.size });
      }
      return found;
    });
    return items.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** Creates the bucket if it does not exist (ingest into a fresh MinIO, tests). */
  async ensureBucket(): Promise<void> {
    await this.call('', async () => {
      if (!(await this.client.bucketExists(this.bucket))) await this.client.makeBucket(this.bucket, this.config.region);
    });
  }

  /** Headers within requestMs, then no silence longer than idleMs: a large body may take long, but never stall. */
  private async openBody(objectKey: string): Promise<Readable> {
    const { requestMs } = this.timeouts;
    const body = await deadline(this.client.getObject(this.bucket, objectKey), requestMs, () =>
      this.stalled(objectKey, `no answer within ${requestMs} ms`)
    );
    return idleGuard(body, this.timeouts.idleMs, () =>
      this.stalled(objectKey, `no data for ${this.timeouts.idleMs} ms mid-object`)
    );
  }

  private stalled(objectKey: string, what: string): StoreError {
    return new StoreError(
      'transient',
      `${what}: bucket "${this.bucket}", key "${objectKey}" at ${this.config.endpoint}`,
      `s3://${this.bucket}/${objectKey}`
    );
  }

  private call<T>(
    key: string,
    operation: (objectKey: string) => Promise<T>,
    timeoutMs = this.timeouts.requestMs
  ): Promise<T> {
    const objectKey = joinKey(this.prefix, key);
    return withRetry(
      async () => {
        try {
          const running = operation(objectKey);
          return await (timeoutMs === Infinity
            ? running
            : deadline(running, timeoutMs, () => this.stalled(objectKey, `no answer within ${timeoutMs} ms`)));
        } catch (error) {
          throw this.translate(error, objectKey);
        }
      },
      this.retry ?? retryDefaults(),
      `object storage at ${this.config.endpoint}`
    );
  }

  private translate(error: unknown, objectKey: string): StoreError {
    if (error instanceof StoreError) return error;
    const location = `s3://${this.bucket}/${objectKey}`;
    const where = `bucket "${this.bucket}", key "${objectKey}" at ${this.config.endpoint}`;
    const code = errorCode(error);
    const detail = error instanceof Error ? error.message : String(error);
    switch (code) {
      case 'NoSuchKey':
      case 'NotFound':
        return new StoreError('not-found', `no object: ${where}`, location, { cause: error });
      case 'NoSuchBucket':
        return new StoreError(
          'no-such-bucket',
          `no such bucket: ${where}; check the URI's bucket name and that the bucket was created`,
          location,
          { cause: error }
        );
      case 'AccessDenied':
      case 'InvalidAccessKeyId':
      case 'SignatureDoesNotMatch':
        return new StoreError(
          'access-denied',
          `access denied (${code}): ${where}; check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or RINGTRAIN_S3_CREDENTIALS_DIR) and the bucket policy`,
          location,
          { cause: error }
        );
      case 'InvalidBucketName':
        return new StoreError('invalid', `invalid bucket name: ${where}`, location, { cause: error });
    }
    if (code !== undefined && (transientCodes.has(code) || !(error instanceof S3Error))) {
      return new StoreError('transient', `transient error (${code}) on ${where}: ${detail}`, location, {
        cause: error
      });
    }
    if (error instanceof S3Error) {
      return new StoreError('invalid', `S3 error ${code ?? 'unknown'} on ${where}: ${detail}`, location, {
        cause: error
      });
    }
    // Errors without a code (a socket closed mid-body) are network trouble: worth a retry.
    return new StoreError('transient', `error on ${where}: ${detail}`, location, { cause: error });
  }
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  const code = (error as { code: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}
