import type { Watch } from '@kubernetes/client-node';
import type { Logger } from 'pino';

/** The part of an object an informer reads. */
export interface ObjectWithMeta {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

export interface ListResult<T> {
  readonly items: readonly T[];
  readonly resourceVersion: string;
}

export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface InformerOptions<T> {
  /** For logs and metrics: `trainingruns`, `pods`. */
  readonly resource: string;
  readonly list: () => Promise<ListResult<T>>;
  /** The collection's URL path, watched with `watch=true` by client-node's Watch. */
  readonly watchPath: string;
  readonly watchQuery?: Readonly<Record<string, string>>;
  readonly watch: Watch;
  readonly onChange: (object: T, type: ChangeType) => void;
  readonly onRelist?: (reason: string) => void;
  readonly logger: Logger;
}

export function objectKey(object: ObjectWithMeta): string {
  return `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;
}

/**
 * A list+watch cache (client-go's reflector + store, kubernetes-fluent-client's Watcher): lists once, then
 * watches from the list's resourceVersion so no change between the two is lost; follows bookmarks to keep
 * that resourceVersion fresh; resumes a dropped watch from the last resourceVersion seen; and when the API
 * server answers 410 Gone (that version has been compacted away) lists again, reporting objects that
 * vanished meanwhile as DELETED.
 */
export class Informer<T extends ObjectWithMeta> {
  private readonly cache = new Map<string, T>();
  private resourceVersion = '';
  private abort: AbortController | undefined;
  private stopped = false;
  private gone = false;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: InformerOptions<T>) {}

  /**
   * Resolves once the first list is in the cache (the informer has synced). Transient refusals (429 while the
   * API server's watch cache initialises, 5xx, a dropped connection) are retried with backoff; 403 and 404
   * are not, as no retry fixes missing RBAC or a missing CRD.
   */
  async start(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.relist('initial list');
        return;
      } catch (error) {
        const status = (error as { code?: unknown } | null)?.code;
        if (this.stopped || status === 403 || status === 404 || attempt >= 30) throw error;
        const delay = Math.min(5000, 100 * 2 ** attempt);
        this.options.logger.warn(
          { resource: this.options.resource, err: error, retryInMs: delay },
          'initial list failed; retrying'
        );
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.abort?.abort();
    this.abort = undefined;
  }

  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  /** Puts an object the caller just wrote, so the next read does not see the older copy (until the watch catches up). */
  upsert(object: T): void {
    const key = objectKey(object);
    const cached = this.cache.get(key);
    if (!cached || Number(object.metadata?.resourceVersion ?? 0) >= Number(cached.metadata?.resourceVersion ?? 0))
      this.cache.set(key, object);
  }

  private async relist(reason: string): Promise<void> {
    if (this.stopped) return;
    const { items, resourceVersion } = await this.options.list();
    const seen = new Set<string>();
    for (const item of items) {
      const key = objectKey(item);
      seen.add(key);
      const previous = this.cache.get(key);
      this.cache.set(key, item);
      if (previous?.metadata?.resourceVersion !== item.metadata?.resourceVersion)
        this.options.onChange(item, previous ? 'MODIFIED' : 'ADDED');
    }
    for (const [key, previous] of this.cache) {
      if (seen.has(key)) continue;
      this.cache.delete(key);
      this.options.onChange(previous, 'DELETED');
    }
    this.resourceVersion = resourceVersion;
    this.options.onRelist?.(reason);
    this.options.logger.debug(
      { resource: this.options.resource, resourceVersion, items: items.length, reason },
      'listed'
    );
    await this.startWatch();
  }

  private async startWatch(): Promise<void> {
    if (this.stopped) return;
    // A server-side timeout spreads reconnects out, as client-go does (5–10 minutes).
    const query = {
      ...this.options.watchQuery,
      resourceVersion: this.resourceVersion,
      allowWatchBookmarks: true,
      timeoutSeconds: 300 + Math.floor(Math.random() * 300)
    };
    try {
      this.abort = await this.options.watch.watch(
        this.options.watchPath,
        query,
        (type, object: T & { code?: number; message?: string }) => this.onEvent(type, object),
        (error: unknown) => this.onDone(error)
      );
      this.failures = 0;
    } catch (error) {
      this.onDone(error);
    }
  }

  private onEvent(type: string, object: T & { code?: number; message?: string }): void {
    if (type === 'ERROR') {
      if (object.code === 410) {
        this.gone = true;
        this.abort?.abort();
      } else {
        this.options.logger.warn({ resource: this.options.resource, status: object }, 'watch error event');
      }
      return;
    }
    const resourceVersion = object.metadata?.resourceVersion;
    if (resourceVersion) this.resourceVersion = resourceVersion;
    if (type === 'BOOKMARK') return;
    const key = objectKey(object);
    if (type === 'DELETED') this.cache.delete(key);
    else this.cache.set(key, object);
    if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') this.options.onChange(object, type);
  }

  private onDone(error: unknown): void {
    this.abort = undefined;
    if (this.stopped) return;
    const status = (error as { statusCode?: number; code?: number } | null | undefined) ?? undefined;
    if (this.gone || status?.statusCode === 410 || status?.code === 410) {
      this.gone = false;
      this.options.logger.info(
        { resource: this.options.resource },
        'resourceVersion too old (410 Gone): listing again'
      );
      this.retry(() => this.relist('410 Gone'), 0);
      return;
    }
    if (error) {
      this.failures += 1;
      const delay = Math.min(30_000, 250 * 2 ** Math.min(this.failures, 7));
      this.options.logger.warn(
        { resource: this.options.resource, err: error, retryInMs: delay },
        'watch failed; resuming from the last resourceVersion'
      );
      this.retry(() => this.startWatch(), delay);
      return;
    }
    this.retry(() => this.startWatch(), 0); // the server closed the watch at its timeout: carry on
  }

  private retry(action: () => Promise<void>, delayMs: number): void {
    this.retryTimer = setTimeout(() => {
      action().catch((error: unknown) => {
        this.failures += 1;
        const delay = Math.min(30_000, 250 * 2 ** Math.min(this.failures, 7));
        this.options.logger.warn(
          { resource: this.options.resource, err: error, retryInMs: delay },
          'list failed; retrying'
        );
        this.retry(() => this.relist('retry after a failed list'), delay);
      });
    }, delayMs);
  }
}
