import { parentPort, workerData } from 'node:worker_threads';
import { readRunIdentity } from '@ringtrain/proto';
import { CoordinatorConnection, CoordinatorUnavailableError, createLogger } from '@ringtrain/protocol';
import type { FromHeartbeatThread, HeartbeatThreadData, ToHeartbeatThread } from './heartbeat-protocol.js';

// Runs in a worker thread (heartbeat.ts starts it): its event loop never trains, so a synchronous TensorFlow
// step on the rank's main thread does not silence it. The whole process stopping does (SIGSTOP, a frozen
// node), and so does a main thread whose loop has not turned for mainThreadStallMs (its step hangs): what the
// coordinator's watchdog is for.
const data = workerData as HeartbeatThreadData;
const port = parentPort!;
const connection = new CoordinatorConnection(
  data.coordinator,
  data.token,
  {},
  data.tlsDir === undefined ? undefined : readRunIdentity(data.tlsDir)
);
const post = (message: FromHeartbeatThread) => port.postMessage(message);
const mainThreadAlive = new BigInt64Array(data.mainThreadAlive);
const log = createLogger({ service: 'worker', workerId: data.workerId }).child({ thread: 'heartbeats' });

let generation: number | undefined;
let timing = { intervalMs: 1_000, coordinatorLostMs: 60_000, mainThreadStallMs: Number.POSITIVE_INFINITY };
let stalledSince: number | undefined;
let timer: NodeJS.Timeout | undefined;
let unreachableSince: number | undefined;
let inFlight = false;

function beat(): void {
  const current = generation;
  if (current === undefined || inFlight) return;
  const still = Date.now() - Number(Atomics.load(mainThreadAlive, 0));
  if (still > timing.mainThreadStallMs) {
    if (stalledSince === undefined)
      log.error(
        { generation: current, stillSeconds: Math.round(still / 1000) },
        `the main thread has not turned its event loop for ${(still / 1000).toFixed(0)} s, past the collective timeout: its step hangs, so heartbeats stop and the coordinator will declare this rank hung`
      );
    stalledSince ??= Date.now();
    return;
  }
  stalledSince = undefined;
  inFlight = true;
  connection
    .heartbeat(data.workerId, current)
    .then(
      (answer) => {
        unreachableSince = undefined;
        if (generation === current)
          post({ kind: 'answer', generation: current, abort: answer.abort, reason: answer.reason, stop: answer.stop });
      },
      (error: unknown) => {
        if (generation !== current) return;
        post({ kind: 'failed', generation: current, error: String(error) });
        if (!(error instanceof CoordinatorUnavailableError)) return;
        unreachableSince ??= Date.now();
        const down = Date.now() - unreachableSince;
        if (down >= timing.coordinatorLostMs) {
          post({
            kind: 'coordinator-lost',
            generation: current,
            reason: `the coordinator at ${connection.address} has been unreachable for ${(down / 1000).toFixed(0)} s`
          });
        }
      }
    )
    .finally(() => (inFlight = false));
}

port.on('message', (message: ToHeartbeatThread) => {
  if (message.kind === 'generation') {
    generation = message.generation;
    timing = {
      intervalMs: message.intervalMs,
      coordinatorLostMs: message.coordinatorLostMs,
      mainThreadStallMs: message.mainThreadStallMs
    };
    unreachableSince = undefined;
    clearInterval(timer);
    timer = setInterval(beat, timing.intervalMs);
    beat();
  } else if (message.kind === 'idle') {
    generation = undefined;
    clearInterval(timer);
  } else {
    clearInterval(timer);
    connection.close();
    port.close();
  }
});
post({ kind: 'ready' });
