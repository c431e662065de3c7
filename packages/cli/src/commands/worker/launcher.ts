import type { ChildProcess } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import { EXIT_CODES } from '@ringtrain/proto';
import { z } from 'zod';
import { ExitError } from '../../errors.js';
import { hasExited, shellExitCode } from '../../worker-process.js';

/**
 * `ringtrain worker` in a pod of several ranks (a TrainingRun's spec.workers.ranksPerPod, torchrun's
 * `--nproc-per-node`): one `ringtrain worker` process per local rank, each its own member of the ring, and the pod
 * failing fast as a pod of one rank does. Each process gets:
 *   - its worker id `<pod's worker id>-<local>`, which the coordinator orders naturally, so the ranks of a pod
 *     are neighbours on the ring (rank = pod's first rank + local, as RINGTRAIN_RANK says);
 *   - RINGTRAIN_RANK, RINGTRAIN_LOCAL_RANK, RINGTRAIN_LOCAL_WORLD_SIZE (torchrun's LOCAL_RANK and LOCAL_WORLD_SIZE);
 *   - its own collective port, RINGTRAIN_COLLECTIVE_PORT + local (the pod declares each);
 *   - with GPUs, one device: CUDA_VISIBLE_DEVICES is the local-th entry of the pod's list (the devices the
 *     device plugin gave, renumbered from 0 inside the container), and its GPU check expects exactly 1;
 *   - RINGTRAIN_LOCAL_WORKERS multiplied by the ranks, so each takes its share of the pod's cores.
 */

/** The pod's environment as the operator sets it; RINGTRAIN_RANKS_PER_POD above 1 makes `ringtrain worker` a launcher. */
const LauncherEnvSchema = z.object({
  RINGTRAIN_RANKS_PER_POD: z.coerce.number().int().min(1).max(16),
  /** The pod's first rank. */
  RINGTRAIN_RANK: z.coerce.number().int().min(0).default(0),
  /** The first local rank's port; unset, each process listens where the worker's default puts it. */
  RINGTRAIN_COLLECTIVE_PORT: z.coerce.number().int().min(1).max(65_535).optional(),
  RINGTRAIN_EXPECTED_GPUS: z.coerce.number().int().min(0).default(0),
  RINGTRAIN_LOCAL_WORKERS: z.coerce.number().int().min(1).default(1),
  CUDA_VISIBLE_DEVICES: z.string().optional()
});

/** Ranks per pod from the environment: 1 (no launcher) when RINGTRAIN_RANKS_PER_POD is unset. */
export function ranksPerPodOf(env: NodeJS.ProcessEnv): number {
  const raw = env.RINGTRAIN_RANKS_PER_POD;
  return raw === undefined || raw === '' ? 1 : Number(raw);
}

export interface LocalRank {
  readonly local: number;
  readonly rank: number;
  readonly workerId: string;
  /** The whole environment of its process. */
  readonly env: NodeJS.ProcessEnv;
}

const invalid = (message: string) => new ExitError(EXIT_CODES.badConfig, message);

/** What each local rank is started with, from the pod's environment and worker id. Pure. */
export function planLocalRanks(env: NodeJS.ProcessEnv, workerId: string): LocalRank[] {
  const parsed = LauncherEnvSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
    throw invalid(`invalid environment for a pod of several ranks: ${problems}`);
  }
  const pod = parsed.data;
  const count = pod.RINGTRAIN_RANKS_PER_POD;
  const gpus = pod.RINGTRAIN_EXPECTED_GPUS;
  if (gpus > 0 && gpus !== count)
    throw invalid(
      `RINGTRAIN_RANKS_PER_POD is ${count} but the pod was given ${gpus} GPUs: one rank per GPU (spec.workers.ranksPerPod equal to gpu.count, or unset)`
    );
  const devices = gpus > 0 ? gpuDevices(pod.CUDA_VISIBLE_DEVICES, gpus) : [];
  if (gpus > 0 && devices.length < count)
    throw invalid(
      `CUDA_VISIBLE_DEVICES lists ${devices.length} devices (${pod.CUDA_VISIBLE_DEVICES ?? ''}) for ${count} ranks of one GPU each`
    );
  if (pod.RINGTRAIN_COLLECTIVE_PORT !== undefined && pod.RINGTRAIN_COLLECTIVE_PORT + count - 1 > 65_535)
    throw invalid(`RINGTRAIN_COLLECTIVE_PORT ${pod.RINGTRAIN_COLLECTIVE_PORT} leaves no room for ${count} ports`);
  return Array.from({ length: count }, (_, local) => {
    const child: NodeJS.ProcessEnv = {
      ...env,
      RINGTRAIN_RANK: String(pod.RINGTRAIN_RANK + local),
      RINGTRAIN_LOCAL_RANK: String(local),
      RINGTRAIN_LOCAL_WORLD_SIZE: String(count),
      RINGTRAIN_LOCAL_WORKERS: String(pod.RINGTRAIN_LOCAL_WORKERS * count),
      ...(pod.RINGTRAIN_COLLECTIVE_PORT !== undefined
        ? { RINGTRAIN_COLLECTIVE_PORT: String(pod.RINGTRAIN_COLLECTIVE_PORT + local) }
        : {}),
      ...(gpus > 0 ? { CUDA_VISIBLE_DEVICES: devices[local], RINGTRAIN_EXPECTED_GPUS: '1' } : {})
    };
    // A child is one rank, not another launcher.
    delete child.RINGTRAIN_RANKS_PER_POD;
    return { local, rank: pod.RINGTRAIN_RANK + local, workerId: `${workerId}-${local}`, env: child };
  });
}

/** The pod's GPUs as CUDA names them: its CUDA_VISIBLE_DEVICES list when set, else 0 … count − 1. */
function gpuDevices(visible: string | undefined, count: number): string[] {
  if (visible === undefined || visible.trim() === '') return Array.from({ length: count }, (_, i) => String(i));
  return visible
    .split(',')
    .map((device) => device.trim())
    .filter((device) => device !== '');
}

export interface LaunchOptions {
  readonly ranks: readonly LocalRank[];
  /** Starts a local rank's process; its stderr must be a pipe (the launcher passes it on and keeps its last line). */
  readonly start: (rank: LocalRank) => ChildProcess;
  /** Where SIGTERM and SIGINT arrive (the process): each is passed on to every local rank. */
  readonly signals: EventEmitter;
  /** Where the local ranks' stderr goes on. */
  readonly stderr: NodeJS.WritableStream;
}

export interface LaunchOutcome {
  /** 0 when every local rank exited 0; else the exit code of the first that did not. */
  readonly exitCode: number;
  /** The first local rank that failed, and the last line it wrote to stderr (why, in the CLI's words). */
  readonly failed?: { readonly rank: LocalRank; readonly description: string; readonly lastLine: string };
}

/**
 * Runs the local ranks until all have exited. The first one to fail ends the others at once (SIGKILL): its ring
 * is broken anyway, the operator restarts the whole gang, and the pod's exit code and last line are the failed
 * rank's, as with one rank per pod. SIGTERM and SIGINT are passed on, so each rank stops after its step.
 */
export async function launchLocalRanks(options: LaunchOptions): Promise<LaunchOutcome> {
  const children = options.ranks.map((rank) => ({ rank, child: options.start(rank), lastLine: '' }));
  let failed: LaunchOutcome['failed'];
  let exitCode = 0;
  const forward = (signal: NodeJS.Signals) => {
    for (const { child } of children) if (!hasExited(child)) child.kill(signal);
  };
  options.signals.on('SIGTERM', forward);
  options.signals.on('SIGINT', forward);
  try {
    await Promise.all(
      children.map(
        (entry) =>
          new Promise<void>((resolve) => {
            const { child, rank } = entry;
            let partial = '';
            child.stderr?.on('data', (chunk: Buffer) => {
              options.stderr.write(chunk);
              const lines = (partial + chunk.toString('utf8')).split('\n');
              partial = lines.pop() ?? '';
              const last = lines.filter((line) => line.trim() !== '').at(-1);
              if (last !== undefined) entry.lastLine = last;
            });
            child.once('error', (error) => {
              entry.lastLine = `could not start: ${error.message}`;
            });
            child.once('close', (code, signal) => {
              if (partial.trim() !== '') entry.lastLine = partial;
              const status = shellExitCode(code, signal);
              if (status !== 0 && failed === undefined) {
                exitCode = status;
                failed = {
                  rank,
                  description: signal !== null ? `was killed by ${signal}` : `exited with code ${code}`,
                  lastLine: entry.lastLine
                };
                for (const other of children)
                  if (other !== entry && !hasExited(other.child)) other.child.kill('SIGKILL');
              }
              resolve();
            });
          })
      )
    );
  } finally {
    options.signals.off('SIGTERM', forward);
    options.signals.off('SIGINT', forward);
  }
  return failed ? { exitCode, failed } : { exitCode };
}

/** The error the launcher exits with when a local rank failed: its code, and its last words first. */
export function launchFailure(outcome: LaunchOutcome, total: number): ExitError | undefined {
  if (!outcome.failed) return undefined;
  const { rank, description, lastLine } = outcome.failed;
  const why = lastLine.replace(/^ringtrain: /, '');
  return new ExitError(
    outcome.exitCode,
    `${why ? `${why} ` : ''}(local rank ${rank.local} of ${total}, rank ${rank.rank}, worker ${rank.workerId}, ${description}; the pod's other ranks were stopped)`
  );
}

/** `ringtrain worker` with RINGTRAIN_RANKS_PER_POD above 1: the flags it was given, one process per local rank. */
export async function runLauncherCommand(raw: Record<string, unknown>): Promise<void> {
  const { forkRingtrain } = await import('../../worker-process.js');
  const workerId = typeof raw.workerId === 'string' ? raw.workerId : '';
  const ranks = planLocalRanks(process.env, workerId);
  const flags: string[] = [];
  for (const [flag, key] of [
    ['--coordinator', 'coordinator'],
    ['--host', 'host'],
    ['--reconnect-deadline', 'reconnectDeadline'],
    ['--compute-threads', 'computeThreads']
  ] as const) {
    const value = raw[key];
    if (typeof value === 'string' || typeof value === 'number') flags.push(flag, String(value));
  }
  const outcome = await launchLocalRanks({
    ranks,
    start: (rank) =>
      forkRingtrain(['worker', ...flags, '--worker-id', rank.workerId], {
        env: rank.env,
        stdio: ['ignore', 'inherit', 'pipe', 'ipc']
      }),
    signals: process,
    stderr: process.stderr
  });
  const failure = launchFailure(outcome, ranks.length);
  if (failure) throw failure;
}
