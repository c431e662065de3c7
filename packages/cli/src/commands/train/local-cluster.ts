import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Coordinator } from '@ringtrain/coordinator';
import { exitWithin, forkRingtrain, RINGTRAIN_BIN } from '../../worker-process.js';

export interface LocalClusterOptions {
  coordinator: Coordinator;
  token: string;
  workers: number;
  logDir: string;
  /** Restarts of one worker slot before the supervisor gives up and fails the run. */
  maxRestartsPerWorker: number;
  /** RINGTRAIN_COMPUTE_THREADS of every worker; unset, each takes the cores divided by `workers`. */
  computeThreads?: number;
  onEvent: (line: string) => void;
  /** Where each worker runs; by default in this machine's network, its collective on 127.0.0.1. */
  placement?: WorkerPlacement;
}

/**
 * Workers placed elsewhere than this process's network: `bench scaling --link-gbit` starts slot i inside the
 * namespace of a shaped network's rank i (@ringtrain/collective's ShapedNetwork fits this shape).
 */
export interface WorkerPlacement {
  /** The address slot `index`'s collective endpoint listens on (and peers reach it at). */
  host(index: number): string;
  /** Starts `command args…` for slot `index`, the child keeping `options` (env, stdio with IPC). */
  spawn(index: number, command: string, args: readonly string[], options: SpawnOptions): ChildProcess;
}

interface Slot {
  id: string;
  index: number;
  child: ChildProcess | undefined;
  restarts: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * The local supervisor: keeps one `ringtrain worker` process per slot alive, as Kubernetes keeps pods alive.
 * A worker that exits while the run goes on is reported to the coordinator (which ends the generation) and
 * started again after a backoff; one the coordinator declares hung is killed first.
 */
export class LocalCluster {
  private readonly slots: Slot[];
  private stopping = false;

  constructor(private readonly options: LocalClusterOptions) {
    this.slots = Array.from({ length: options.workers }, (_, i) => ({
      id: `worker-${i}`,
      index: i,
      child: undefined,
      restarts: 0,
      timer: undefined
    }));
    options.coordinator.on('workerLost', ({ workerId }) => {
      const slot = this.slots.find((each) => each.id === workerId);
      slot?.child?.kill('SIGKILL');
    });
  }

  /** Process ids by slot, for tests and chaos. */
  get pids(): (number | undefined)[] {
    return this.slots.map((slot) => slot.child?.pid);
  }

  async start(): Promise<void> {
    await mkdir(this.options.logDir, { recursive: true });
    for (const slot of this.slots) this.spawn(slot);
  }

  /** Sends a signal to every live worker (Ctrl-C was already delivered to them by the terminal, if any). */
  signal(signal: NodeJS.Signals): void {
    for (const slot of this.slots) slot.child?.kill(signal);
  }

  /** Stops restarting; waits up to `graceMs` for the workers to exit, then kills the rest. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    for (const slot of this.slots) clearTimeout(slot.timer);
    await Promise.all(this.slots.map((slot) => (slot.child ? exitWithin(slot.child, graceMs) : undefined)));
  }

  private spawn(slot: Slot): void {
    const log = openSync(path.join(this.options.logDir, `${slot.id}.log`), 'a');
    const args = ['worker', '--coordinator', this.options.coordinator.address, '--worker-id', slot.id];
    const options: SpawnOptions = {
      env: {
        ...process.env,
        RINGTRAIN_TOKEN: this.options.token,
        RINGTRAIN_LOCAL_WORKERS: String(this.options.workers),
        ...(this.options.computeThreads !== undefined
          ? { RINGTRAIN_COMPUTE_THREADS: String(this.options.computeThreads) }
          : {})
      },
      stdio: ['ignore', log, log, 'ipc']
    };
    const placement = this.options.placement;
    const child =
      placement === undefined
        ? forkRingtrain(args, options)
        : placement.spawn(
            slot.index,
            process.execPath,
            [...process.execArgv, RINGTRAIN_BIN, ...args, '--host', placement.host(slot.index)],
            options
          );
    closeSync(log);
    slot.child = child;
    child.once('exit', (code, signal) => {
      if (slot.child === child) slot.child = undefined;
      const runOver =
        this.stopping ||
        this.options.coordinator.state === 'succeeded' ||
        this.options.coordinator.state === 'failed' ||
        this.options.coordinator.state === 'stopped';
      if (runOver && code === 0) return;
      const description = signal !== null ? `was killed by ${signal}` : `exited with code ${code}`;
      if (this.stopping || runOver) return;
      this.options.coordinator.workerExited(slot.id, description);
      slot.restarts += 1;
      if (slot.restarts > this.options.maxRestartsPerWorker) {
        this.options.coordinator.abortRun(
          `${slot.id} ${description} and was restarted ${slot.restarts - 1} times; see ${path.join(this.options.logDir, `${slot.id}.log`)}`
        );
        return;
      }
      const delay = Math.min(10_000, 500 * 2 ** (slot.restarts - 1));
      this.options.onEvent(
        `${slot.id} ${description}; restarting it in ${(delay / 1000).toFixed(1)} s (restart ${slot.restarts})`
      );
      slot.timer = setTimeout(() => this.spawn(slot), delay);
    });
  }
}
