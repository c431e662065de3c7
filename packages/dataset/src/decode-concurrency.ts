import { availableParallelism } from 'node:os';
import { cgroupCpuQuota, cgroupMemoryLimit, readCgroupFile, type ReadCgroupFile } from '@ringtrain/proto';

/** How many images an ingest reads and decodes at once, and why (the coordinator logs it). */
export interface DecodeConcurrency {
  readonly decodes: number;
  readonly reason: string;
}

export interface DecodeConcurrencyOptions {
  /** The ingest's --max-resolution: a decode that downscales holds less memory. */
  readonly maxResolution?: number | undefined;
  /** `os.availableParallelism()` by default: the node's cores, which a pod's CPU quota may cut. */
  readonly cores?: number;
  /** Reads a cgroup file; injectable for tests. */
  readonly readCgroupFile?: ReadCgroupFile;
}

/** sharp waits on reads and hands decodes to libvips' threads: two in flight per CPU keep each busy. */
export const DECODES_PER_CPU = 2;

/**
 * Memory one decode in flight may hold: the source file, its pixels and libvips' buffers, and the prepared
 * image waiting in its window. Measured here (2026-12, sharp 0.35, peak RSS over four decodes at once of a
 * 4000×3000 photo): 70–75 MB per JPEG and ~94 MB per PNG kept at full size; 17–33 MB per JPEG (shrink-on-load)
 * and ~57 MB per PNG downscaled to 448 px. Photos larger than 12 MP need more: raise the memory limit.
 */
export const DECODE_MEMORY_BYTES = { original: 96 * 2 ** 20, downscaled: 64 * 2 ** 20 } as const;

/**
 * Memory the ingesting process needs besides its decodes: Node and the coordinator (~140–190 MB measured), the
 * shard being filled and the shards waiting for the store (4 uploads of 64 MiB, and their encoded copies).
 */
export const INGEST_BASE_MEMORY_BYTES = 512 * 2 ** 20;

/**
 * Images an ingest decodes at once: two per CPU this process may use (the cgroup's CPU quota, else the cores it
 * sees), and no more than its cgroup's memory limit holds beside the ingest's fixed needs; at least one. In a pod
 * the node's core count says nothing of the container's quota: 2 × 64 decodes of 12 MP photos would need ~12 GB.
 */
export function chooseDecodeConcurrency(options: DecodeConcurrencyOptions = {}): DecodeConcurrency {
  const read = options.readCgroupFile ?? readCgroupFile;
  const cores = options.cores ?? availableParallelism();
  const quota = cgroupCpuQuota(read);
  const cpus = quota === undefined ? cores : Math.min(cores, quota);
  const byCpu = DECODES_PER_CPU * cpus;
  const cpuReason = quota === undefined ? `${cores} cores` : `a CPU quota of ${quota} on ${cores} cores`;
  const memory = cgroupMemoryLimit(read);
  if (memory === undefined)
    return { decodes: byCpu, reason: `${DECODES_PER_CPU} per CPU of ${cpuReason}, no memory limit` };
  const perDecode = options.maxResolution === undefined ? DECODE_MEMORY_BYTES.original : DECODE_MEMORY_BYTES.downscaled;
  const byMemory = Math.max(1, Math.floor((memory - INGEST_BASE_MEMORY_BYTES) / perDecode));
  const decodes = Math.min(byCpu, byMemory);
  const memoryReason = `a memory limit of ${mebibytes(memory)} holds ${byMemory} (${mebibytes(perDecode)} each ${options.maxResolution === undefined ? 'at full size' : `downscaled to ${options.maxResolution} px`}, ${mebibytes(INGEST_BASE_MEMORY_BYTES)} kept for the rest)`;
  return { decodes, reason: `${DECODES_PER_CPU} per CPU of ${cpuReason} allow ${byCpu}; ${memoryReason}` };
}

function mebibytes(bytes: number): string {
  return `${Math.round(bytes / 2 ** 20)} MiB`;
}
