import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CollectiveEndpoint, ProcessGroup } from './index.js';

/**
 * A training rank blocks its event loop for a whole synchronous step, so it cannot answer HTTP/2 pings
 * meanwhile. These tests run two real rank processes: rank 0 blocks for 4 s between two all-reduces.
 */
type Settings = { rank: number; keepaliveTimeoutMs: number };
type Report = { address: string } | { outcome: string };

const self = fileURLToPath(import.meta.url);

async function rankMain(settings: Settings): Promise<void> {
  const keepalive = { keepaliveTimeMs: 500, keepaliveTimeoutMs: settings.keepaliveTimeoutMs };
  const endpoint = await CollectiveEndpoint.listen(keepalive);
  process.send!({ address: endpoint.address } satisfies Report);
  const peers = await new Promise<string[]>((resolve) =>
    process.once('message', (message) => resolve(message as string[]))
  );
  const group = await ProcessGroup.connect(endpoint, {
    groupId: 'keepalive',
    generation: 0,
    rank: settings.rank,
    worldSize: 2,
    peers,
    token: 'secret',
    timeoutMs: 20_000,
    ...keepalive
  });
  const data = new Float32Array(4).fill(settings.rank + 1);
  let outcome: string;
  try {
    await group.allReduce(data);
    if (settings.rank === 0) {
      const until = Date.now() + 4_000;
      while (Date.now() < until) {
        // A synchronous "training step": no I/O, no timers, no ping answers.
      }
    }
    await group.allReduce(data);
    outcome = `ok ${data[0]}`;
  } catch (error) {
    outcome = `failed: ${(error as Error).message}`;
  }
  process.send!({ outcome } satisfies Report);
  await group.close().catch(() => {});
  await endpoint.close();
  process.disconnect();
}

async function runPair(keepaliveTimeoutMs: number): Promise<string[]> {
  const children = [0, 1].map((rank) =>
    fork(self, [JSON.stringify({ rank, keepaliveTimeoutMs } satisfies Settings)], {
      execArgv: ['--import', import.meta.resolve('tsx')],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc']
    })
  );
  const addresses: string[] = [];
  const outcomes = children.map(
    (child, rank) =>
      new Promise<string>((resolve) => {
        child.on('message', (message: Report) => {
          if ('address' in message) {
            addresses[rank] = message.address;
            if (addresses.filter(Boolean).length === 2) for (const each of children) each.send(addresses);
          } else resolve(message.outcome);
        });
        child.once('exit', (code) => resolve(`exited with code ${code}`));
      })
  );
  try {
    return await Promise.all(outcomes);
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  }
}

if (process.argv[2]?.startsWith('{')) {
  await rankMain(JSON.parse(process.argv[2]) as Settings);
} else {
  test('a short keepalive timeout drops the links of a rank that blocks its event loop', async () => {
    const outcomes = await runPair(1_000);
    assert.ok(
      outcomes.some((outcome) => outcome.startsWith('failed')),
      outcomes.join('; ')
    );
  });

  test('a keepalive timeout longer than the blocking step keeps the group alive', async () => {
    assert.deepEqual(await runPair(30_000), ['ok 6', 'ok 6']);
  });
}
