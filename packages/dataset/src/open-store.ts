import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileStore } from './file-store.js';
import { HttpStore } from './http-store.js';
import type { ObjectStore } from './object-store.js';
import type { RetryOptions } from './retry.js';
import { s3ConfigFromEnv, type S3Config } from './s3-config.js';
import { S3Store } from './s3-store.js';

export type OpenStoreOptions = {
  /** Overrides the S3 configuration read from the environment (tests, explicit CLI flags). */
  s3?: S3Config;
  retry?: RetryOptions;
};

/**
 * Opens the store for a base URI: `s3://bucket/prefix`, `file:///abs/dir` (or a plain path, which local users
 * type), `http(s)://host/dir` (read-only).
 */
export function openStore(uri: string, options: OpenStoreOptions = {}): ObjectStore {
  if (uri.startsWith('s3://')) {
    const rest = uri.slice('s3://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    const prefix = slash < 0 ? '' : rest.slice(slash + 1).replace(/\/+$/, '');
    if (bucket === '') throw new Error(`${uri}: an s3:// URI needs a bucket, as in s3://bucket/prefix`);
    return new S3Store(bucket, prefix, options.s3 ?? s3ConfigFromEnv(), options.retry);
  }
  if (uri.startsWith('http://') || uri.startsWith('https://')) return new HttpStore(uri, options.retry);
  if (uri.startsWith('file://')) return new FileStore(fileURLToPath(uri));
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) {
    throw new Error(`${uri}: unsupported scheme; use s3://bucket/prefix, file:///path or http(s)://`);
  }
  return new FileStore(path.resolve(uri));
}

/** Reads one object named by a full URI (e.g. model weights): the store is opened on its parent. */
export function readObject(uri: string, options: OpenStoreOptions = {}): Promise<Buffer> {
  const { base, key } = splitObjectUri(uri);
  return openStore(base, options).get(key);
}

/** Writes one object named by a full URI atomically. */
export function writeObject(uri: string, body: Buffer, options: OpenStoreOptions = {}): Promise<void> {
  const { base, key } = splitObjectUri(uri);
  return openStore(base, options).put(key, body);
}

function splitObjectUri(uri: string): { base: string; key: string } {
  const slash = uri.lastIndexOf('/');
  if (slash < 0 && !uri.includes('://')) return { base: '.', key: uri };
  const schemeEnd = uri.indexOf('://');
  if (slash < 0 || (schemeEnd >= 0 && slash < schemeEnd + 3) || slash === uri.length - 1) {
    throw new Error(`${uri}: name an object, as in s3://bucket/dir/object or file:///dir/object`);
  }
  return { base: uri.slice(0, slash), key: uri.slice(slash + 1) };
}
