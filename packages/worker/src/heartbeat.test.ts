import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { Coordinator } from '@ringtrain/coordinator';
import { CoordinatorConnection, parseRunConfig } from '@ringtrain/protocol';
import { pino } from 'pino';

const TOKEN = 'a-test-token-of-enough-length';
const DEADLINE_MS = 800;
const BLOCK_MS = 3 * DEADLINE_MS;

let work = '';
before(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-heartbeat-'));
});
after(() => rm(work, { recursive: true, force: true }));

/**
 * A coordinator with a short heartbeat deadline and a gang of two: worker-0 beats from this process (never
 * blocked), worker-1 is a child process (heartbeat-rank.test-helper.ts) that blocks its main thread.
 */
async function gangWith(mode: 'thread' | 'main-thread', runId: string, mainThreadStallMs = 60_000) {
  const config = parseRunConfig(
    {
      runId,
      dataset: '/nowhere',
      out: path.join(work, runId),
      workers: 2,
      epochs: 1,
      batchSize: 4,
      partitions: 2,
      training: { numClasses: 2 },
      cacheDir: work
    },
    'the test'
  );
  const coordinator = await Coordinator.start({
    config,
    token: TOKEN,
    logger: pino({ level: 'silent' }),
    heartbeatDeadlineMs: DEADLINE_MS
  });
  const lost: string[] = [];
  coordinator.on('workerLost', ({ workerId }) => lost.push(workerId));
  const rank = spawn(
    process.execPath,
    [
      '--import',
      import.meta.resolve('tsx'),
      new URL('./heartbeat-rank.test-helper.ts', import.meta.url).pathname,
      coordinator.address,
      TOKEN,
      'worker-1',
      mode,
      String(BLOCK_MS),
      String(mainThreadStallMs)
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit']
    }
  );
  const lines = createInterface({ input: rank.stdout! })[Symbol.asyncIterator]();
  const zero = new CoordinatorConnection(coordinator.address, TOKEN, { deadlineMs: 10_000 });
  const registered = await zero.register('worker-0', 'worker-0:1');
  assert.equal(registered.ended, false);
  const beating = setInterval(() => void zero.heartbeat('worker-0', 0).catch(() => {}), 100);
  const cleanup = async () => {
    clearInterval(beating);
    zero.close();
    if (rank.exitCode === null && rank.signalCode === null) rank.kill('SIGKILL');
    await coordinator.close();
  };
  return { coordinator, rank, lost, next: async () => (await lines.next()).value as string | undefined, cleanup };
}

const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', () => resolve())));

/** worker-1 starts beating, then the coordinator declares it hung: lost, and the abort it is told names the missed heartbeats. */
async function assertDeclaredHung(gang: Awaited<ReturnType<typeof gangWith>>): Promise<void> {
  try {
    assert.equal(await gang.next(), 'beating');
    const told = JSON.parse((await gang.next())!) as { aborted: string[] };
    assert.deepEqual(gang.lost, ['worker-1']);
    assert.match(told.aborted[0] ?? '', /worker-1 \(rank 1\) sent no heartbeat/);
  } finally {
    await gang.cleanup();
  }
}

describe('heartbeats from a worker thread', { timeout: 60_000 }, () => {
  it(`keep a rank alive while its main thread computes for ${BLOCK_MS} ms, past the ${DEADLINE_MS} ms heartbeat deadline`, async () => {
    const gang = await gangWith('thread', 'blocked-thread');
    try {
      assert.equal(await gang.next(), 'beating');
      assert.deepEqual(JSON.parse((await gang.next())!), { aborted: [] }, 'the coordinator never told it to abort');
      assert.deepEqual(gang.lost, []);
      assert.equal(gang.coordinator.state, 'running');
      assert.deepEqual(gang.coordinator.status().restarts, []);
      await exited(gang.rank);
    } finally {
      await gang.cleanup();
    }
  });

  it('sent from the main thread, as they were, let the same step be taken for a hang (the fault this fixes)', async () => {
    await assertDeclaredHung(await gangWith('main-thread', 'blocked-main'));
  });

  it('stop when the main thread stays still past its stall limit (the collective timeout): a step that hangs is declared hung', async () => {
    await assertDeclaredHung(await gangWith('thread', 'stalled', 600));
  });

  it('stop when the whole process stops (SIGSTOP): the watchdog still declares it hung', async () => {
    const gang = await gangWith('thread', 'stopped');
    try {
      assert.equal(await gang.next(), 'beating');
      gang.rank.kill('SIGSTOP');
      const started = Date.now();
      while (gang.lost.length === 0 && Date.now() - started < 10 * DEADLINE_MS)
        await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(gang.lost, ['worker-1']);
      assert.ok(Date.now() - started < 3 * DEADLINE_MS, `declared hung ${Date.now() - started} ms after SIGSTOP`);
      assert.deepEqual(
        gang.coordinator.status().hungWorkers.map((w) => w.workerId),
        ['worker-1']
      );
    } finally {
      gang.rank.kill('SIGCONT');
      await gang.cleanup();
    }
  });
});
