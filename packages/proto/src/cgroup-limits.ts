import { readFileSync } from 'node:fs';

/**
 * What this process's cgroup allows it, read from the files the kernel exposes (cgroup v2, else v1). In a pod
 * these are the container's limits, not the node's: a pod limited to 2 CPUs on a 64-core node sees 64 cores in
 * `os.availableParallelism()`, and a memory limit nowhere but here. Shared by every package that sizes work
 * to the process (the model's compute threads, the dataset's ingest), which is why it lives in the package all
 * of them can depend on.
 */

/** Reads a cgroup file's text; undefined when it does not exist (no cgroup, or the other version). Injectable for tests. */
export type ReadCgroupFile = (path: string) => string | undefined;

export function readCgroupFile(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The CPU limit of this process's cgroup in whole CPUs (v2 `cpu.max`, else v1's CFS quota), at least 1, or undefined if none. */
export function cgroupCpuQuota(read: ReadCgroupFile = readCgroupFile): number | undefined {
  const v2 = read('/sys/fs/cgroup/cpu.max')?.trim().split(/\s+/);
  if (v2 !== undefined && v2.length === 2) {
    const [quota, period] = v2;
    return quota === 'max' ? undefined : positiveRatio(Number(quota), Number(period));
  }
  for (const dir of ['/sys/fs/cgroup/cpu,cpuacct', '/sys/fs/cgroup/cpu']) {
    const quota = read(`${dir}/cpu.cfs_quota_us`);
    const period = read(`${dir}/cpu.cfs_period_us`);
    if (quota !== undefined && period !== undefined) return positiveRatio(Number(quota), Number(period));
  }
  return undefined;
}

/**
 * v1 writes "no limit" as the largest page-aligned 64-bit count (9223372036854771712); anything from 2^60 bytes
 * (an exbibyte) up is read as no limit.
 */
const NO_MEMORY_LIMIT_FROM = 2 ** 60;

/** The memory limit of this process's cgroup in bytes (v2 `memory.max`, else v1's `memory.limit_in_bytes`), or undefined if none. */
export function cgroupMemoryLimit(read: ReadCgroupFile = readCgroupFile): number | undefined {
  const text = read('/sys/fs/cgroup/memory.max') ?? read('/sys/fs/cgroup/memory/memory.limit_in_bytes');
  const value = text?.trim();
  if (value === undefined || value === 'max') return undefined;
  const bytes = Number(value);
  return Number.isFinite(bytes) && bytes > 0 && bytes < NO_MEMORY_LIMIT_FROM ? bytes : undefined;
}

/** A fractional quota (500m) still counts as one CPU; -1 (v1's "no limit") is no quota. */
function positiveRatio(quota: number, period: number): number | undefined {
  if (!(quota > 0) || !(period > 0)) return undefined;
  return Math.max(1, Math.floor(quota / period));
}
