import type { Readable } from 'node:stream';

export type ObjectInfo = { key: string; size: number };

/**
 * The one interface the dataset code uses for storage. Keys are `/`-separated and relative to the store's
 * base URI (`s3://bucket/prefix`, `file:///dir`, `https://host/dir`). Every method throws StoreError.
 */
export interface ObjectStore {
  /** The base URI, for messages. */
  readonly uri: string;
  readonly readOnly: boolean;
  get(key: string): Promise<Buffer>;
  /** Streams an object; the caller must consume or destroy the stream. */
  getStream(key: string): Promise<Readable>;
  /** Writes an object so that readers see either the old object or the complete new one, never a prefix. */
  put(key: string, body: Buffer): Promise<void>;
  /** Size of an object, or undefined when it does not exist. */
  stat(key: string): Promise<ObjectInfo | undefined>;
  /** Keys under a key prefix, sorted. */
  list(prefix: string): Promise<ObjectInfo[]>;
}

/** Joins a base prefix and a relative key without doubling or losing slashes. */
export function joinKey(prefix: string, key: string): string {
  const head = prefix.replace(/\/+$/, '');
  const tail = key.replace(/^\/+/, '');
  if (head === '') return tail;
  if (tail === '') return head;
  return `${head}/${tail}`;
}
