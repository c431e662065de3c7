import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generationBooks } from './generation.js';
import { answerHeartbeat, findHungWorkers, watchdogPeriodMs, type WatchdogBooks } from './heartbeat-watchdog.js';
import { initialRendezvous, rendezvous, type RendezvousEvent, type RendezvousState } from './rendezvous.js';

const DEADLINE_MS = 10_000;

/** A rendezvous of two that formed generation 0 from worker-0 and worker-1, then saw `events`. */
function formed(...events: RendezvousEvent[]): RendezvousState {
  let state = initialRendezvous({ worldSize: 2, maxRestarts: 3, firstGeneration: 0 });
  for (const event of [
    { kind: 'register', workerId: 'worker-0', address: 'a:1' },
    { kind: 'register', workerId: 'worker-1', address: 'b:1' },
    ...events
  ] satisfies RendezvousEvent[])
    state = rendezvous(state, event).state;
  return state;
}

function books(rendezvousState: RendezvousState, overrides: Partial<WatchdogBooks> = {}): WatchdogBooks {
  const current = generationBooks(
    0,
    [
      { workerId: 'worker-0', address: 'a:1' },
      { workerId: 'worker-1', address: 'b:1' }
    ],
    0
  );
  return {
    current,
    rendezvous: rendezvousState,
    exited: new Set(),
    hung: new Map(),
    deadlineMs: DEADLINE_MS,
    ...overrides,
    now: overrides.now ?? 0
  };
}

describe('the heartbeat watchdog', () => {
  it('finds nothing while every member beat within the deadline', () => {
    const view = books(formed(), { now: DEADLINE_MS });
    assert.deepEqual(findHungWorkers(view), []);
  });

  it('declares the first silent member of the running generation hung, which ends its generation', () => {
    const view = books(formed(), { now: DEADLINE_MS + 1 });
    view.current!.members.get('worker-0')!.lastSeen = DEADLINE_MS;
    const verdicts = findHungWorkers(view);
    assert.equal(verdicts.length, 1);
    assert.equal(verdicts[0]!.endsGeneration, true);
    assert.equal(verdicts[0]!.hung.workerId, 'worker-1');
    assert.equal(verdicts[0]!.hung.rank, 1);
    assert.match(verdicts[0]!.hung.reason, /worker-1 \(rank 1\) sent no heartbeat for 10\.0 s: hung or unreachable/);
  });

  it('while the gang gathers again, declares hung a member of the ended generation that neither beats, registers nor exited', () => {
    const gathering = formed(
      { kind: 'heartbeat-missed', workerId: 'worker-0', reason: 'silent' },
      { kind: 'register', workerId: 'worker-0', address: 'a:2' }
    );
    assert.equal(gathering.phase, 'gathering');
    const stragglers = findHungWorkers(books(gathering, { now: DEADLINE_MS + 1 }));
    assert.deepEqual(
      stragglers.map((each) => [each.hung.workerId, each.endsGeneration]),
      [['worker-1', false]],
      'worker-0 registered again: only worker-1 hangs'
    );
    assert.deepEqual(findHungWorkers(books(gathering, { now: DEADLINE_MS + 1, exited: new Set(['worker-1']) })), []);
  });

  it('tells a member of an ended generation to abort, and one of the running generation to carry on', () => {
    const running = books(formed());
    assert.deepEqual(answerHeartbeat({ ...running, result: undefined }, 'worker-0', 0, 5), {
      abort: false,
      reason: '',
      stop: false
    });
    assert.equal(running.current!.members.get('worker-0')!.lastSeen, 5, 'a beat is a sign of life');
    assert.deepEqual(answerHeartbeat({ ...running, result: undefined }, 'worker-0', 1, 5), {
      abort: true,
      reason: 'generation 1 has ended',
      stop: false
    });
    const ended = books(
      formed({ kind: 'generation-failed', generation: 0, workerId: 'worker-1', reason: 'boom', retryable: true })
    );
    assert.equal(answerHeartbeat({ ...ended, result: undefined }, 'worker-0', 0, 5).abort, true);
  });

  it('looks four times per deadline, between 100 ms and 1 s', () => {
    assert.equal(watchdogPeriodMs(2_000), 500);
    assert.equal(watchdogPeriodMs(60_000), 1_000);
    assert.equal(watchdogPeriodMs(100), 100);
  });
});
