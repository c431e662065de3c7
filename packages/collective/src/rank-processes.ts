import { fork, type ChildProcess } from 'node:child_process';

/**
 * Local rank processes for benchmarks and tests: each child listens, reports its address over IPC, and
 * receives every rank's address back — the rendezvous that the coordinator does in a real run.
 */
export type RankReport = { type: 'address'; rank: number; address: string } | { type: 'result'; rank: number; result: unknown } | { type: 'failed'; rank: number; error: SerializedError };
export type PeersMessage = { type: 'peers'; peers: string[] };

export interface SerializedError {
  name: string;
  message: string;
  peerRank?: number;
  code?: string;
}

export interface RankProcesses {
  children: ChildProcess[];
  /** Settles once each rank has sent a result or a failure, indexed by rank. */
  outcomes: Promise<({ result: unknown } | { error: SerializedError })[]>;
  /** Waits (briefly) for every child to exit, then kills any left. */
  stop(): Promise<void>;
}

export function forkRanks(entry: string, settings: readonly unknown[], execArgv: readonly string[]): RankProcesses {
  const worldSize = settings.length;
  const children = settings.map((rankSettings) =>
    fork(entry, [JSON.stringify(rankSettings)], { execArgv: [...execArgv], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
  );
  const addresses = new Array<string>(worldSize);
  const outcomes = new Array<{ result: unknown } | { error: SerializedError }>(worldSize);
  const settled = new Promise<typeof outcomes>((resolve) => {
    let addressed = 0;
    let finished = 0;
    const finish = (rank: number, outcome: { result: unknown } | { error: SerializedError }) => {
      if (outcomes[rank] !== undefined) return;
      outcomes[rank] = outcome;
      finished += 1;
      if (finished === worldSize) resolve(outcomes);
    };
    children.forEach((child, rank) => {
      child.on('message', (message: RankReport) => {
        if (message.type === 'address') {
          addresses[message.rank] = message.address;
          addressed += 1;
          if (addressed === worldSize) for (const peer of children) peer.send({ type: 'peers', peers: addresses } satisfies PeersMessage);
        } else if (message.type === 'result') {
          finish(message.rank, { result: message.result });
        } else {
          finish(message.rank, { error: message.error });
        }
      });
      child.on('exit', (code, signal) => finish(rank, { error: { name: 'ExitError', message: `rank ${rank} exited (code ${code}, signal ${signal})` } }));
    });
  });
  return {
    children,
    outcomes: settled,
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
            }),
        ),
      ).then(() => undefined),
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
      ? { name: error.name, message: error.message, ...('peerRank' in error && typeof error.peerRank === 'number' ? { peerRank: error.peerRank } : {}), ...('code' in error && typeof error.code === 'string' ? { code: error.code } : {}) }
      : { name: 'Error', message: String(error) };
  process.send!({ type: 'failed', rank, error: serialized } satisfies RankReport);
}
