import { availableParallelism } from 'node:os';
import { cgroupCpuQuota, readCgroupFile, type ReadCgroupFile } from '@ringtrain/proto';

/** TensorFlow's two thread pools, and why they have the size they have (logged with the backend). */
export interface ComputeThreads {
  /** Threads one operation (a convolution, a matmul) is split across; 0 means TensorFlow's default. */
  readonly intraOp: number;
  /** Threads that run independent operations at once; eager execution barely uses them. */
  readonly interOp: number;
  readonly reason: string;
}

export interface ComputeThreadsOptions {
  /** An explicit count (`--compute-threads`, `RINGTRAIN_COMPUTE_THREADS`): used as given. */
  readonly requested?: number;
  /** Workers sharing this machine or container (`ringtrain train --workers N` on one host). */
  readonly localWorkers?: number;
  /** Reads a cgroup file; injectable for tests. Returns undefined when the file does not exist. */
  readonly readCgroupFile?: ReadCgroupFile;
  /** `os.availableParallelism()` by default. */
  readonly cores?: number;
}

/**
 * How many threads TensorFlow should compute with in this process: the CPUs it may really use (a pod's cgroup
 * CPU quota, else the cores it sees) divided among the workers that share them, at least 1. Oversubscribing
 * the cores (TensorFlow's default is one thread per core in every process) makes each step slower, not faster.
 */
export function chooseComputeThreads(options: ComputeThreadsOptions = {}): ComputeThreads {
  if (options.requested !== undefined) {
    if (!Number.isInteger(options.requested) || options.requested < 1) {
      throw new Error(`compute threads must be a positive integer, got ${options.requested}`);
    }
    return { intraOp: options.requested, interOp: 1, reason: 'requested' };
  }
  const cores = options.cores ?? availableParallelism();
  const quota = cgroupCpuQuota(options.readCgroupFile ?? readCgroupFile);
  const budget = quota === undefined ? cores : Math.min(cores, quota);
  const source =
    quota === undefined ? `${cores} cores` : `a cgroup CPU quota of ${formatCpus(quota)} on ${cores} cores`;
  const workers = Math.max(1, options.localWorkers ?? 1);
  const intraOp = Math.max(1, Math.floor(budget / workers));
  const share = workers > 1 ? ` shared by ${workers} local workers` : '';
  return { intraOp, interOp: 1, reason: `${source}${share}` };
}

function formatCpus(cpus: number): string {
  return cpus === 1 ? '1 CPU' : `${cpus} CPUs`;
}
