// A rank reduced to its heartbeats, run as its own process by heartbeat.test.ts: it registers, beats for its
// generation (from the heartbeat thread, or from its main thread as ranks once did), says "beating", then
// blocks its main thread as a synchronous training step does, for BLOCK_MS, and says what it was told.
import { CoordinatorConnection } from '@ringtrain/protocol';
import { HeartbeatSender } from './heartbeat.js';

const [address, token, workerId, mode, blockMs, stallMs] = process.argv.slice(2) as [
  string,
  string,
  string,
  'thread' | 'main-thread',
  string,
  string
];
const connection = new CoordinatorConnection(address, token, { deadlineMs: 10_000 });
// As a rank does: the thread is up before the gang forms, so the first beat is not late.
const sender = mode === 'thread' ? new HeartbeatSender({ coordinator: address, token, workerId }) : undefined;
await sender?.ready;
const registered = await connection.register(workerId, `${workerId}:1`);
if (registered.ended) throw new Error(registered.reason);
const { generation } = registered.assignment;
const verdicts: string[] = [];
let timer: NodeJS.Timeout | undefined;
if (sender) {
  sender.beat(
    generation,
    { intervalMs: 100, coordinatorLostMs: 60_000, mainThreadStallMs: Number(stallMs) },
    (verdict) => verdict.kind === 'answer' && verdict.abort && verdicts.push(verdict.reason)
  );
} else {
  timer = setInterval(
    () =>
      void connection.heartbeat(workerId, generation).then((answer) => answer.abort && verdicts.push(answer.reason)),
    100
  );
}
// Let the first beats go out, then compute without yielding.
await new Promise((resolve) => setTimeout(resolve, 300));
console.log('beating');
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(blockMs));
await new Promise((resolve) => setTimeout(resolve, 300));
console.log(JSON.stringify({ aborted: verdicts }));
clearInterval(timer);
await sender?.close();
connection.close();
