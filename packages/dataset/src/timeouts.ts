import type { Readable } from 'node:stream';

/**
 * Rejects when `promise` has not settled within `ms`. A stuck request otherwise blocks a rank forever — and with
 * it every other rank of the ring — which is the classic failure of distributed training.
 */
export function deadline<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/** Destroys `stream` with an error when no data arrives for `ms` (a server that stalls mid-body). */
export function idleGuard<S extends Readable>(stream: S, ms: number, onTimeout: () => Error): S {
  const timer = setTimeout(() => stream.destroy(onTimeout()), ms);
  stream.on('data', () => timer.refresh());
  stream.once('close', () => clearTimeout(timer));
  stream.once('end', () => clearTimeout(timer));
  return stream;
}
