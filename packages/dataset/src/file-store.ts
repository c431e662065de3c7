import { createReadStream } from 'node:fs';
import { mkdir, readFile, readdir, rename, stat, writeFile, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { joinKey, type ObjectInfo, type ObjectStore } from './object-store.js';
import { StoreError } from './store-error.js';

/** The local filesystem as an object store: the default for local runs and single-machine training. */
export class FileStore implements ObjectStore {
  readonly readOnly = false;
  readonly uri: string;

  constructor(readonly root: string) {
    this.uri = `file://${root}`;
  }

  async get(key: string): Promise<Buffer> {
    const file = this.resolve(key);
    try {
      return await readFile(file);
    } catch (error) {
      throw this.translate(error, key);
    }
  }

  async getStream(key: string): Promise<Readable> {
    const file = this.resolve(key);
    // Open eagerly so a missing file is reported here, not as a late stream error.
    await this.statOrThrow(key);
    return createReadStream(file);
  }

  async put(key: string, body: Buffer): Promise<void> {
    const file = this.resolve(key);
    const temp = `${file}.${randomBytes(6).toString('hex')}.partial`;
    try {
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(temp, body);
      // rename(2) is atomic within a filesystem: readers see the old file or the whole new one.
      await rename(temp, file);
    } catch (error) {
      await rm(temp, { force: true });
      throw this.translate(error, key);
    }
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    try {
      const info = await stat(this.resolve(key));
      return info.isFile() ? { key, size: info.size } : undefined;
    } catch (error) {
      if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR')) return undefined;
      throw this.translate(error, key);
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    let entries: string[];
    try {
      entries = await readdir(this.root, { recursive: true });
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return [];
      throw this.translate(error, prefix);
    }
    const found: ObjectInfo[] = [];
    for (const entry of entries.sort()) {
      const key = entry.split(path.sep).join('/');
      if (!key.startsWith(prefix) || key.endsWith('.partial')) continue;
      const info = await this.stat(key);
      if (info) found.push(info);
    }
    return found;
  }

  private async statOrThrow(key: string): Promise<void> {
    if (!(await this.stat(key))) throw this.translate(Object.assign(new Error('missing'), { code: 'ENOENT' }), key);
  }

  private resolve(key: string): string {
    const file = path.resolve(this.root, joinKey('', key));
    if (file !== this.root && !file.startsWith(this.root + path.sep)) {
      throw new StoreError('invalid', `key ${JSON.stringify(key)} escapes the store root ${this.root}`, this.uri);
    }
    return file;
  }

  private translate(error: unknown, key: string): StoreError {
    const location = `${this.uri.replace(/\/$/, '')}/${key}`;
    if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR')) {
      return new StoreError(
        'not-found',
        `no object at ${location}: check the path and that ingest finished`,
        location,
        { cause: error }
      );
    }
    if (isErrno(error, 'EACCES') || isErrno(error, 'EPERM')) {
      return new StoreError(
        'access-denied',
        `permission denied on ${location}: check the file's owner and mode`,
        location,
        { cause: error }
      );
    }
    const message = error instanceof Error ? error.message : String(error);
    return new StoreError('transient', `I/O error on ${location}: ${message}`, location, { cause: error });
  }
}

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}
