import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  initialRendezvous,
  rendezvous,
  type RendezvousAction,
  type RendezvousConfig,
  type RendezvousEvent,
  type RendezvousState
} from './rendezvous.js';

const config: RendezvousConfig = { worldSize: 2, maxRestarts: 2, firstGeneration: 0 };

/** Runs events from the initial state; returns each step's actions and the final state. */
function run(
  events: readonly RendezvousEvent[],
  from: RendezvousState = initialRendezvous(config)
): { state: RendezvousState; steps: (readonly RendezvousAction[])[] } {
  let state = from;
  const steps: (readonly RendezvousAction[])[] = [];
  for (const event of events) {
    const next = rendezvous(state, event);
    state = next.state;
    steps.push(next.actions);
  }
  return { state, steps };
}

const kinds = (actions: readonly RendezvousAction[]) => actions.map((action) => action.kind);
const register = (workerId: string): RendezvousEvent => ({ kind: 'register', workerId, address: `${workerId}:1` });

describe('rendezvous (the state machine)', () => {
  it('gathers until the gang is complete, then forms generation 0 in natural slot order', () => {
    const { state, steps } = run(
      [register('worker-10'), register('worker-2')],
      initialRendezvous({ ...config, firstGeneration: 0 })
    );
    assert.deepEqual(kinds(steps[0]!), ['wait']);
    assert.deepEqual(steps[1]!.at(-1), {
      kind: 'form',
      generation: 0,
      members: [
        { workerId: 'worker-2', address: 'worker-2:1' },
        { workerId: 'worker-10', address: 'worker-10:1' }
      ]
    });
    assert.equal(state.phase, 'running');
  });

  it('a lost member ends the generation, counted, and the next forms from the re-registrations', () => {
    const { state, steps } = run([
      register('worker-0'),
      register('worker-1'),
      { kind: 'heartbeat-missed', workerId: 'worker-1', reason: 'silent' },
      register('worker-0'),
      register('worker-1')
    ]);
    assert.deepEqual(steps[2], [
      { kind: 'generation-ended', generation: 0, reason: 'silent', counted: true, restart: true }
    ]);
    assert.equal(state.phase, 'running');
    assert.equal(state.generation?.number, 1);
    assert.equal(state.restarts, 1);
  });

  it('past the restart budget, or on a permanent failure, the run fails', () => {
    const lose = (generation: number): RendezvousEvent[] => [
      register('worker-0'),
      register('worker-1'),
      { kind: 'generation-failed', generation, workerId: 'worker-0', reason: 'PEER_LOST', retryable: true }
    ];
    const { state } = run([...lose(0), ...lose(1), ...lose(2)]);
    assert.equal(state.phase, 'finishing');
    assert.match(state.outcome?.reason ?? '', /gave up after 3 failed generations \(limit 2\)/);
    const permanent = run([
      register('worker-0'),
      register('worker-1'),
      { kind: 'generation-failed', generation: 0, workerId: 'worker-1', reason: 'bad weights', retryable: false }
    ]);
    assert.deepEqual(permanent.state.outcome, {
      state: 'failed',
      reason: 'rank 1 (worker-1) failed: bad weights (not retryable)'
    });
    // A worker that comes back to a failed run is told it failed in so many words (run_outcome), not by wording.
    const late = run([
      register('worker-0'),
      register('worker-1'),
      { kind: 'generation-failed', generation: 0, workerId: 'worker-1', reason: 'bad weights', retryable: false },
      register('worker-1')
    ]);
    assert.deepEqual(late.steps.at(-1), [{ kind: 'answer-ended', reason: 'the run is ending', outcome: 'failed' }]);
  });

  it('every member finished: the run finishes, and stays finished once written', () => {
    const { state, steps } = run([
      register('worker-0'),
      register('worker-1'),
      { kind: 'member-finished', generation: 0, workerId: 'worker-0', stopped: false },
      { kind: 'member-finished', generation: 0, workerId: 'worker-1', stopped: false },
      {
        kind: 'generation-failed',
        generation: 0,
        workerId: 'worker-0',
        reason: 'link closed at exit',
        retryable: true
      },
      register('worker-0'),
      { kind: 'finished' },
      register('worker-1')
    ]);
    assert.deepEqual(steps[3], [{ kind: 'finish', state: 'succeeded', reason: 'training finished' }]);
    assert.deepEqual(steps[4], [], 'a failure report during the final write changes nothing');
    assert.deepEqual(steps[5], [{ kind: 'answer-ended', reason: 'the run is ending', outcome: 'succeeded' }]);
    assert.deepEqual(steps[6], [{ kind: 'release', reason: 'training finished', outcome: 'succeeded' }]);
    assert.deepEqual(steps[7], [{ kind: 'answer-ended', reason: 'training finished', outcome: 'succeeded' }]);
    assert.equal(state.phase, 'finished');
  });

  it('a member that finished waits for the outcome: if another then fails, it joins the next generation (found on kind: rank 0 failed its last checkpoint after rank 1 had exited)', () => {
    const { state, steps } = run([
      register('worker-0'),
      register('worker-1'),
      { kind: 'member-finished', generation: 0, workerId: 'worker-1', stopped: false },
      register('worker-1'),
      { kind: 'generation-failed', generation: 0, workerId: 'worker-0', reason: 'AccessDenied', retryable: true },
      register('worker-0')
    ]);
    assert.deepEqual(steps[3], [{ kind: 'wait', workerId: 'worker-1', address: 'worker-1:1', waiting: 1 }]);
    assert.equal(state.restarts, 1);
    assert.deepEqual(steps[5]!.at(-1), {
      kind: 'form',
      generation: 1,
      members: [
        { workerId: 'worker-0', address: 'worker-0:1' },
        { workerId: 'worker-1', address: 'worker-1:1' }
      ]
    });
  });

  it('a member that finished and waits is answered when the others finish too', () => {
    const { state, steps } = run([
      register('worker-0'),
      register('worker-1'),
      { kind: 'member-finished', generation: 0, workerId: 'worker-1', stopped: false },
      register('worker-1'),
      { kind: 'member-finished', generation: 0, workerId: 'worker-0', stopped: false },
      { kind: 'finished' }
    ]);
    assert.deepEqual(steps[4], [{ kind: 'finish', state: 'succeeded', reason: 'training finished' }]);
    assert.deepEqual(steps[5], [{ kind: 'release', reason: 'training finished', outcome: 'succeeded' }]);
    assert.equal(state.phase, 'finished');
  });

  it('a stop ends a gathering run at once, and a running one when its generation ends', () => {
    assert.deepEqual(run([{ kind: 'stop', reason: 'SIGINT' }]).steps[0], [
      { kind: 'finish', state: 'stopped', reason: 'stopped: SIGINT' }
    ]);
    const { steps } = run([
      register('worker-0'),
      register('worker-1'),
      { kind: 'stop', reason: 'SIGINT' },
      { kind: 'leave', workerId: 'worker-0', description: 'exited with code 143' }
    ]);
    assert.deepEqual(steps[2], []);
    assert.deepEqual(kinds(steps[3]!), ['generation-ended', 'finish']);
  });

  it('a registration that completes the gang after the budget is spent during a re-registration is told the run is ending', () => {
    const tight = initialRendezvous({ ...config, maxRestarts: 0 });
    const { steps } = run([register('worker-0'), register('worker-1'), register('worker-1')], tight);
    assert.deepEqual(kinds(steps[2]!), ['generation-ended', 'finish', 'answer-ended']);
  });

  // The property the coordinator relies on: whatever arrives, in whatever order, nothing forms a generation (or
  // counts a restart) once the run has begun to end, and the run ends once.
  const workerId = fc.constantFrom('worker-0', 'worker-1', 'worker-2', 'worker-3', '');
  const generation = fc.integer({ min: -1, max: 6 });
  const event: fc.Arbitrary<RendezvousEvent> = fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant('register' as const),
        workerId,
        address: fc.constantFrom('h:1', 'h:2', '')
      })
    },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('leave' as const), workerId, description: fc.constant('exited') })
    },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('heartbeat-missed' as const), workerId, reason: fc.constant('silent') })
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('generation-failed' as const),
        generation,
        workerId,
        reason: fc.constant('failed'),
        retryable: fc.boolean()
      })
    },
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('member-finished' as const),
        generation,
        workerId,
        stopped: fc.boolean()
      })
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('stop' as const), reason: fc.constant('asked') }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('abort' as const), reason: fc.constant('supervisor') }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'close' as const }) },
    { weight: 2, arbitrary: fc.constant({ kind: 'finished' as const }) }
  );
  const setup = fc.record({
    worldSize: fc.integer({ min: 1, max: 3 }),
    maxRestarts: fc.integer({ min: 0, max: 3 }),
    firstGeneration: fc.integer({ min: 0, max: 3 })
  });

  it('property: no sequence of events forms a generation or counts a restart after finish began; the run finishes once', () => {
    fc.assert(
      fc.property(setup, fc.array(event, { maxLength: 60 }), (rendezvousConfig, events) => {
        let state = initialRendezvous(rendezvousConfig);
        let finishing = false;
        let nextGeneration = rendezvousConfig.firstGeneration;
        let finishes = 0;
        let restarts = 0;
        for (const each of events) {
          const waitingBefore = new Set(state.pending.map((registration) => registration.workerId));
          const { state: after, actions } = rendezvous(state, each);
          for (const action of actions) {
            if (action.kind === 'form') {
              assert.ok(!finishing, 'a generation formed after finish began');
              assert.equal(action.generation, nextGeneration, 'generations are numbered one after another');
              nextGeneration += 1;
              assert.equal(action.members.length, rendezvousConfig.worldSize);
              assert.equal(
                new Set(action.members.map((member) => member.workerId)).size,
                action.members.length,
                'each member once'
              );
              for (const member of action.members) {
                assert.ok(
                  waitingBefore.has(member.workerId) || (each.kind === 'register' && each.workerId === member.workerId),
                  `${member.workerId} was waiting`
                );
                assert.notEqual(member.workerId, '');
              }
            }
            if (action.kind === 'generation-ended') {
              assert.ok(!finishing, 'a generation ended after finish began');
              if (action.counted) restarts += 1;
            }
            if (action.kind === 'wait') assert.ok(!finishing, 'a registration waits for a gang that will never form');
            if (action.kind === 'finish') {
              finishes += 1;
              finishing = true;
            }
          }
          if (finishing) assert.ok(after.phase === 'finishing' || after.phase === 'finished');
          assert.equal(after.restarts, restarts);
          assert.ok(restarts <= rendezvousConfig.maxRestarts + 1, 'restarts stop at the budget');
          if (after.phase === 'running') assert.equal(after.generation?.ended, undefined);
          state = after;
        }
        assert.ok(finishes <= 1, 'the run finishes once');
      }),
      { numRuns: 2_000 }
    );
  });

  it('property: a registration is answered at once or waits, and every waiting one is answered exactly once by the end', () => {
    fc.assert(
      fc.property(setup, fc.array(event, { maxLength: 60 }), (rendezvousConfig, events) => {
        let state = initialRendezvous(rendezvousConfig);
        const waiting = new Map<string, number>();
        for (const each of [...events, { kind: 'close' } as const, { kind: 'finished' } as const]) {
          const { state: after, actions } = rendezvous(state, each);
          if (each.kind === 'register') {
            const immediate = actions.filter(
              (action) => action.kind === 'answer-ended' || action.kind === 'refuse' || action.kind === 'wait'
            );
            assert.equal(immediate.length, 1, `one answer to a registration: ${JSON.stringify(actions)}`);
          }
          for (const action of actions) {
            if (action.kind === 'supersede') waiting.delete(action.workerId);
            if (action.kind === 'wait') waiting.set(action.workerId, 1);
            if (action.kind === 'form')
              for (const member of action.members)
                assert.ok(waiting.delete(member.workerId), 'formed from a waiting registration');
            if (action.kind === 'release') waiting.clear();
          }
          assert.deepEqual(
            [...waiting.keys()].sort(),
            after.pending.map((registration) => registration.workerId).sort(),
            'pending is what waits'
          );
          state = after;
        }
        assert.equal(state.phase, 'finished');
        assert.equal(waiting.size, 0);
      }),
      { numRuns: 1_000 }
    );
  });
});
