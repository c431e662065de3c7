import { createHash } from 'node:crypto';
import { manifestKey, parseManifest, type Manifest } from './manifest.js';
import { openStore, type OpenStoreOptions } from './open-store.js';
import type { ObjectStore } from './object-store.js';

export type LoadedManifest = { manifest: Manifest; json: string; sha256: string };

/** Reads and validates a dataset's manifest.json straight from storage (no service needed). */
export async function loadManifest(
  dataset: string | ObjectStore,
  options: OpenStoreOptions = {}
): Promise<LoadedManifest> {
  const store = typeof dataset === 'string' ? openStore(dataset, options) : dataset;
  const bytes = await store.get(manifestKey);
  return manifestFromJson(bytes.toString('utf8'), `${store.uri}/${manifestKey}`);
}

export function manifestFromJson(json: string, origin: string): LoadedManifest {
  return { manifest: parseManifest(json, origin), json, sha256: createHash('sha256').update(json).digest('hex') };
}
