import { fork, type ChildProcess, type StdioOptions } from 'node:child_process';

/**
 * Local rank processes for benchmarks and tests: each child listens, reports its address over IPC, and
 * receives every rank's address back — the rendezvous that the coordinator does in a real run.
 */
export type RankReport =
  | { type: 'address'; rank: number; address: string }
  | { type: 'result'; rank: number; result: unknown }
  | { type: 'failed'; rank: number; error: SerializedError }
  | { type: 'progress'; rank: number; iteration: number };
export type PeersMessage = { type: 'peers'; peers: string[] };

export interface SerializedError {
  name: string;
  message: string;
  peerRank?: number;
  code?: string;
}

export type RankOutcome = { result: unknown } | { error: SerializedError };

export interface RankProcesses {
  children: ChildProcess[];
  /** Each rank's result or failure (an exit without either is a failure too). */
  rankOutcomes: Promise<RankOutcome>[];
  /** Every rank's outcome, indexed by rank. */
  outcomes: Promise<RankOutcome[]>;
  /** Waits (briefly) for every child to exit, then kills any left. */
  stop(): Promise<void>;
}

/**
 * Starts one rank's process with an IPC channel. The default forks it here; a shaped network starts it inside
 * the rank's network namespace (see shaped-network.ts), with the same entry and arguments.
 */
export type RankLauncher = (
  rank: number,
  entry: string,
  args: readonly string[],
  options: { execArgv: readonly string[]; stdio: StdioOptions }
) => ChildProcess;

const forkHere: RankLauncher = (_rank, entry, args, options) =>
  fork(entry, [...args], { execArgv: [...options.execArgv], stdio: options.stdio });

export function forkRanks(
  entry: string,
  settings: readonly unknown[],
  execArgv: readonly string[],
  launch: RankLauncher = forkHere
): RankProcesses {
  const worldSize = settings.length;
  const children = settings.map((rankSettings, rank) =>
    launch(rank, entry, [JSON.stringify(rankSettings)], {
      execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc']
    })
  );
  const addresses = new Array<string>(worldSize);
  let addressed = 0;
  const rankOutcomes = children.map(
    (child, rank) =>
      new Promise<RankOutcome>((resolve) => {
        child.on('message', (message: RankReport) => {
          if (message.type === 'address') {
            addresses[message.rank] = message.address;
            addressed += 1;
            if (addressed === worldSize)
              for (const peer of children) peer.send({ type: 'peers', peers: addresses } satisfies PeersMessage);
          } else if (message.type === 'result') {
            resolve({ result: message.result });
          } else if (message.type === 'failed') {
            resolve({ error: message.error });
          }
        });
        child.on('exit', (code, signal) =>
          resolve({ error: { name: 'ExitError', message: `rank ${rank} exited (code ${code}, signal ${signal})` } })
        );
      })
  );
  return {
    children,
    rankOutcomes,
    outcomes: Promise.all(rankOutcomes),
    stop: () =>
      Promise.all(
        children.map(
          (child) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve();
              const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
              child.once('exit', () => {
                clearTimeout(timer);
                resolve();
              });
            })
        )
      ).then(() => undefined)
  };
}

/** In a rank process: report this rank's address and wait for everyone's. */
export function exchangeAddresses(rank: number, address: string): Promise<string[]> {
  return new Promise((resolve) => {
    process.once('message', (message: PeersMessage) => resolve(message.peers));
    process.send!({ type: 'address', rank, address } satisfies RankReport);
  });
}

export function reportResult(rank: number, result: unknown): void {
  process.send!({ type: 'result', rank, result } satisfies RankReport);
}

export function reportFailure(rank: number, error: unknown): void {
  const serialized: SerializedError =
    error instanceof Error
      ? {
          name: error.name,
          message: error.message,
          ...('peerRank' in error && typeof error.peerRank === 'number' ? { peerRank: error.peerRank } : {}),
          ...('code' in error && typeof error.code === 'string' ? { code: error.code } : {})
        }
      : { name: 'Error', message: String(error) };
  process.send!({ type: 'failed', rank, error: serialized } satisfies RankReport);
}
