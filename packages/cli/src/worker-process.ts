import { fork, type ChildProcess, type ForkOptions } from 'node:child_process';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';

/**
 * Starting and stopping `ringtrain` child processes, shared by the two supervisors of worker processes: `ringtrain
 * train`'s local cluster (one process per rank on this machine, restarted as Kubernetes restarts pods) and `ringtrain
 * worker`'s launcher (one process per rank of a pod, failing fast as one pod).
 */

/** The real `ringtrain` entry point: children load the packages as this process does (its bin's own comments). */
export const RINGTRAIN_BIN = fileURLToPath(new URL('../bin/ringtrain.mjs', import.meta.url));

/**
 * `ringtrain <args>` in a child Node process with an IPC channel: a worker started so dies with its supervisor
 * (`ringtrain worker` kills itself when the channel closes), however far it is into a retry loop.
 */
export function forkRingtrain(args: readonly string[], options: ForkOptions): ChildProcess {
  return fork(RINGTRAIN_BIN, [...args], options);
}

/** Whether a child has exited (or never started). */
export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Resolves once `child` has exited, killing it (SIGKILL) if it is still alive after `graceMs`. */
export function exitWithin(child: ChildProcess, graceMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    if (hasExited(child)) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** A process's exit as a shell reports it: its code, or 128 + the signal's number for one a signal ended. */
export function shellExitCode(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const number = signal !== null ? constants.signals[signal] : undefined;
  return number !== undefined ? 128 + number : 1;
}
