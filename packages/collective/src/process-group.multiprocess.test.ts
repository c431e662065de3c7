import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { forkRanks, type SerializedError } from './rank-processes.js';
import type { BlockedOperation, TestRankSettings } from './test-rank.fixture.js';

const ENTRY = fileURLToPath(new URL('./test-rank.fixture.ts', import.meta.url));
const EXEC_ARGV = ['--import', import.meta.resolve('tsx')];
const RESNET18_PARAMETERS = 11_689_512;

function testInput(rank: number, index: number): number {
  return Math.fround(((index * 7919 + rank * 104_729) % 2003) / 1001 - 1);
}

function launch(worldSize: number, settings: Omit<TestRankSettings, 'rank' | 'worldSize'>) {
  return forkRanks(
    ENTRY,
    Array.from({ length: worldSize }, (_, rank): TestRankSettings => ({ rank, worldSize, ...settings })),
    EXEC_ARGV
  );
}

function waitForProgress(ranks: ReturnType<typeof launch>, iteration: number): Promise<void> {
  return new Promise((resolve) => {
    for (const child of ranks.children) {
      child.on('message', (message: { type: string; iteration?: number }) => {
        if (message.type === 'progress' && message.iteration === iteration) resolve();
      });
    }
  });
}

test(
  'separate processes all-reduce ResNet18-sized gradients to the same bits, equal to the exact sum',
  { timeout: 120_000 },
  async () => {
    for (const worldSize of [2, 3]) {
      const ranks = launch(worldSize, { elements: RESNET18_PARAMETERS, iterations: 2, timeoutMs: 30_000, wire: 'f32' });
      try {
        const outcomes = await ranks.outcomes;
        const results = outcomes.map((outcome, rank) => {
          assert.ok('result' in outcome, `rank ${rank}: ${JSON.stringify(outcome)}`);
          return outcome.result as { digest: string; samples: [number, number][] };
        });
        for (const result of results) assert.equal(result.digest, results[0]!.digest, 'every rank holds the same bits');
        for (const [index, value] of results[0]!.samples) {
          let exact = 0;
          for (let rank = 0; rank < worldSize; rank += 1) exact += testInput(rank, index);
          assert.ok(Math.abs(value - exact) <= 1e-6 * worldSize, `element ${index}: ${value} vs ${exact}`);
        }
      } finally {
        await ranks.stop();
      }
    }
  }
);

async function assertSurvivorsFailFast(disrupt: 'SIGKILL' | 'SIGSTOP', thread = false): Promise<void> {
  const timeoutMs = 2_000;
  const ranks = launch(3, { elements: 262_144, iterations: 100_000, timeoutMs, wire: 'f32', thread });
  try {
    await waitForProgress(ranks, 3);
    const disruptedAt = Date.now();
    ranks.children[1]!.kill(disrupt);
    const survivors = await Promise.race([
      Promise.all([ranks.rankOutcomes[0]!, ranks.rankOutcomes[2]!]),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('survivors still running: the ring hangs')), 3 * timeoutMs)
      )
    ]);
    const elapsed = Date.now() - disruptedAt;
    assert.ok(elapsed <= timeoutMs + 2_000, `survivors failed after ${elapsed} ms`);
    for (const [index, rank] of [0, 2].entries()) {
      const outcome = survivors[index]!;
      assert.ok('error' in outcome, `rank ${rank} should have failed`);
      const error: SerializedError = outcome.error;
      assert.ok(
        ['PeerLostError', 'CollectiveTimeoutError'].includes(error.name),
        `rank ${rank}: ${error.name}: ${error.message}`
      );
      assert.ok(['PEER_LOST', 'TIMEOUT'].includes(error.code ?? ''), `rank ${rank}'s error has code ${error.code}`);
      assert.equal(typeof error.peerRank, 'number', `rank ${rank}'s error names a peer: ${error.message}`);
    }
  } finally {
    if (disrupt === 'SIGSTOP') ranks.children[1]!.kill('SIGKILL');
    await ranks.stop();
  }
}

test(
  'killing a rank mid-operation makes every survivor fail within the deadline, naming a peer',
  { timeout: 60_000 },
  async () => {
    await assertSurvivorsFailFast('SIGKILL');
  }
);

test(
  'with the collective on its own thread, killing a rank rejects every survivor’s training thread within the deadline, naming a peer',
  { timeout: 60_000 },
  async () => {
    await assertSurvivorsFailFast('SIGKILL', true);
  }
);

test(
  'with the collective on its own thread, a stalled rank (SIGSTOP) fails every other rank within the deadline',
  { timeout: 60_000 },
  async () => {
    await assertSurvivorsFailFast('SIGSTOP', true);
  }
);

test(
  'a stalled rank (SIGSTOP) makes every other rank fail within the deadline instead of hanging',
  { timeout: 60_000 },
  async () => {
    await assertSurvivorsFailFast('SIGSTOP');
  }
);

test(
  'an all-reduce returns only once its last frames are on the wire, so a rank that blocks next does not stall the others',
  { timeout: 60_000 },
  async () => {
    const ranks = launch(2, {
      elements: 4 * 1024 * 1024,
      iterations: 1,
      timeoutMs: 30_000,
      wire: 'f32',
      blockAfterFirstMs: 4_000
    });
    try {
      const outcomes = await ranks.outcomes;
      const waited = outcomes.map((outcome, rank) => {
        assert.ok('result' in outcome, `rank ${rank}: ${JSON.stringify(outcome)}`);
        return (outcome.result as { operationMs: number[] }).operationMs[0]!;
      });
      assert.ok(
        waited[1]! < 3_000,
        `rank 1 waited ${waited[1]!.toFixed(0)} ms for frames rank 0 had queued before blocking`
      );
    } finally {
      await ranks.stop();
    }
  }
);

test(
  'with the collective on its own thread, a 40 MiB all-reduce completes while the rank computes (busy), not after',
  { timeout: 120_000 },
  async (t) => {
    const blockMs = 3_000;
    const seen: Record<string, BlockedOperation> = {};
    for (const thread of [false, true]) {
      const ranks = launch(2, {
        elements: (40 * 1024 * 1024) / 4,
        iterations: 2,
        timeoutMs: 30_000,
        wire: 'f32',
        blockWhileReducingMs: blockMs,
        thread
      });
      try {
        const outcomes = await ranks.outcomes;
        const results = outcomes.map((outcome, rank) => {
          assert.ok('result' in outcome, `rank ${rank}: ${JSON.stringify(outcome)}`);
          return outcome.result as { digest: string; blocked?: BlockedOperation };
        });
        assert.equal(results[0]!.digest, results[1]!.digest, 'both ranks hold the same bits');
        seen[thread ? 'threaded' : 'unthreaded'] = results[0]!.blocked!;
      } finally {
        await ranks.stop();
      }
    }
    const { threaded, unthreaded } = seen as { threaded: BlockedOperation; unthreaded: BlockedOperation };
    t.diagnostic(
      `rank 0 busy ${blockMs} ms after starting a 40 MiB all-reduce: it then still waited ${unthreaded.afterBlockMs.toFixed(0)} ms unthreaded, ` +
        `${threaded.afterBlockMs.toFixed(0)} ms threaded (its thread had settled it ${threaded.settledBeforeBlockEndedMs!.toFixed(0)} ms before the block ended)`
    );
    // The thread's clock decides; the waits after the block are reported (on a busy 2-core machine a process
    // whose loop just ended may wait for a core as long as the transfer takes).
    assert.ok(threaded.settledBeforeBlockEndedMs! > 0, 'the thread finished the all-reduce during the block');
  }
);
