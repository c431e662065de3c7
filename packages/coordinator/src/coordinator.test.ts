import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type CheckpointReportInput,
  CoordinatorConnection,
  type EpochReport,
  parseRunConfig,
  RegistrationAbortedError,
  type RunConfig
} from '@ringtrain/protocol';
import { pino } from 'pino';
import { Coordinator, type CoordinatorOptions } from './coordinator.js';

const TOKEN = 'a-test-token-of-enough-length';
const silent = pino({ level: 'silent' });

let work = '';
before(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-coordinator-'));
});
after(() => rm(work, { recursive: true, force: true }));

function config(overrides: Partial<RunConfig> = {}): RunConfig {
  return parseRunConfig(
    {
      runId: 'run-test',
      dataset: '/nowhere',
      out: path.join(work, overrides.runId ?? 'out'),
      workers: 2,
      epochs: 1,
      batchSize: 4,
      partitions: 2,
      training: { numClasses: 2 },
      cacheDir: work,
      ...overrides
    },
    'the test'
  );
}

/** worker-0's report of its first epoch of generation 0; a test names only what it checks. */
function epochReport(overrides: Partial<EpochReport> = {}): EpochReport {
  return {
    workerId: 'worker-0',
    generation: 0,
    epoch: 0,
    trainLoss: 1.2,
    valAccuracy: 0.5,
    valImages: 10,
    samplesTrained: 40,
    sampleChecksum: '1:2',
    ...overrides
  };
}

/** worker-0's checkpoint after epoch 1 (step 5) into slot 0. */
const firstCheckpoint: CheckpointReportInput = {
  workerId: 'worker-0',
  generation: 0,
  key: 'checkpoints/slot-0.ckpt',
  epoch: 1,
  globalStep: 5,
  samplesConsumed: 0,
  bytes: 123
};

async function start(
  overrides: Partial<CoordinatorOptions> = {},
  runConfig = config()
): Promise<{ coordinator: Coordinator; connect: () => CoordinatorConnection }> {
  const coordinator = await Coordinator.start({ config: runConfig, token: TOKEN, logger: silent, ...overrides });
  const connections: CoordinatorConnection[] = [];
  after(async () => {
    for (const connection of connections) connection.close();
    await coordinator.close();
  });
  return {
    coordinator,
    connect: () => {
      const connection = new CoordinatorConnection(coordinator.address, TOKEN, { deadlineMs: 2_000 });
      connections.push(connection);
      return connection;
    }
  };
}

describe('Coordinator', () => {
  it('answers registrations only when the whole gang is present, ranks in natural slot order, with the config', async () => {
    const { coordinator, connect } = await start({}, config({ workers: 3, runId: 'gang' }));
    const [a, b, c] = [connect(), connect(), connect()];
    let answered = 0;
    const first = a.register('worker-10', 'h:10').then((outcome) => ((answered += 1), outcome));
    const second = b.register('worker-2', 'h:2').then((outcome) => ((answered += 1), outcome));
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(answered, 0, 'nobody starts before the gang is complete');
    assert.equal(coordinator.status().registered, 2);
    const third = await c.register('worker-1', 'h:1');
    const outcomes = [await first, await second, third];
    for (const outcome of outcomes) assert.equal(outcome.ended, false);
    const assignments = outcomes.map((outcome) => (outcome.ended ? assert.fail() : outcome.assignment));
    assert.deepEqual(
      assignments.map((each) => each.rank),
      [2, 1, 0]
    );
    assert.deepEqual(assignments[0]!.peers, ['h:1', 'h:2', 'h:10']);
    assert.equal(new Set(assignments.map((each) => each.collectiveToken)).size, 1);
    assert.equal(assignments[0]!.config.batchSize, 4);
    assert.equal(assignments[0]!.generation, 0);
    assert.equal(coordinator.state, 'running');
  });

  it('refuses a wrong token', async () => {
    const { coordinator } = await start({}, config({ runId: 'token' }));
    const intruder = new CoordinatorConnection(coordinator.address, 'not-the-right-token-at-all', {
      deadlineMs: 1_000
    });
    await assert.rejects(intruder.register('worker-0', 'h:0'), /wrong or missing coordinator token/);
    intruder.close();
  });

  it('a worker that registers again ends the generation; survivors are told to abort and the next generation forms', async () => {
    const { coordinator, connect } = await start({}, config({ runId: 'restart' }));
    const [a, b] = [connect(), connect()];
    await Promise.all([a.register('worker-0', 'h:0'), b.register('worker-1', 'h:1')]);
    const restarts: string[] = [];
    coordinator.on('restart', ({ reason }) => restarts.push(reason));
    const again = b.register('worker-1', 'h:1b');
    const told = await a.heartbeat('worker-0', 0);
    assert.equal(told.abort, true);
    assert.match(told.reason, /worker-1 registered again/);
    const [survivor, restarted] = await Promise.all([a.register('worker-0', 'h:0'), again]);
    assert.equal(survivor.ended || restarted.ended, false);
    if (!survivor.ended) assert.equal(survivor.assignment.generation, 1);
    if (!restarted.ended) assert.deepEqual(restarted.assignment.peers, ['h:0', 'h:1b']);
    assert.equal(restarts.length, 1);
    assert.equal((await a.heartbeat('worker-0', 1)).abort, false);
    await assert.rejects(
      a.reportStep({ workerId: 'worker-0', generation: 0, epoch: 0, globalStep: 1 }),
      /generation 0 is not the current one/
    );
  });

  it('a silent worker misses its heartbeat deadline: workerLost, the generation ends', async () => {
    const { coordinator, connect } = await start({ heartbeatDeadlineMs: 400 }, config({ runId: 'deadline' }));
    const [a, b] = [connect(), connect()];
    await Promise.all([a.register('worker-0', 'h:0'), b.register('worker-1', 'h:1')]);
    const lost = new Promise<string>((resolve) => coordinator.once('workerLost', ({ workerId }) => resolve(workerId)));
    const beating = setInterval(() => void a.heartbeat('worker-0', 0), 100);
    try {
      assert.equal(await lost, 'worker-1');
    } finally {
      clearInterval(beating);
    }
    assert.match(coordinator.status().restarts[0]!.reason, /worker-1 \(rank 1\) sent no heartbeat/);
  });

  it('/status names a hung worker until it registers again, so the operator can replace its pod', async () => {
    const { coordinator, connect } = await start({ heartbeatDeadlineMs: 400 }, config({ runId: 'hung' }));
    const [a, b] = [connect(), connect()];
    await Promise.all([a.register('worker-0', 'h:0'), b.register('worker-1', 'h:1')]);
    assert.deepEqual(coordinator.status().hungWorkers, []);
    const before = Date.now();
    const lost = new Promise<void>((resolve) => coordinator.once('workerLost', () => resolve()));
    const beating = setInterval(() => void a.heartbeat('worker-0', 0), 100);
    try {
      await lost;
    } finally {
      clearInterval(beating);
    }
    const [hung, ...others] = coordinator.status().hungWorkers;
    assert.deepEqual(others, []);
    assert.equal(hung?.workerId, 'worker-1');
    assert.equal(hung?.rank, 1);
    assert.ok(
      Date.parse(hung!.since) >= before - 50 && Date.parse(hung!.since) <= Date.now(),
      'since: its last sign of life'
    );
    assert.match(hung!.reason, /sent no heartbeat/);
    // Alive after all (a stopped process resumed, or its replacement): it is no longer hung.
    const again = b.register('worker-1', 'h:1');
    await a.register('worker-0', 'h:0');
    await again;
    assert.deepEqual(coordinator.status().hungWorkers, []);
  });

  it('past the restart budget the run fails, and late registrations are told it ended', async () => {
    const { coordinator, connect } = await start({ maxRestarts: 1 }, config({ runId: 'budget' }));
    const [a, b] = [connect(), connect()];
    for (let generation = 0; generation < 2; generation += 1) {
      await Promise.all([a.register('worker-0', 'h:0'), b.register('worker-1', 'h:1')]);
      await a.reportFailure({
        workerId: 'worker-0',
        generation,
        reason: 'PEER_LOST: link broke',
        code: 'PEER_LOST',
        retryable: true
      });
    }
    const result = await coordinator.done;
    assert.equal(result.state, 'failed');
    assert.match(
      result.reason,
      /gave up after 2 failed generations \(limit 1\); last: rank 0 \(worker-0\) failed: PEER_LOST/
    );
    const late = await a.register('worker-0', 'h:0');
    assert.equal(late.ended, true);
    const written = JSON.parse(await readFile(path.join(work, 'budget', 'metrics.json'), 'utf8')) as {
      state: string;
      restarts: unknown[];
    };
    assert.equal(written.state, 'failed');
    assert.equal(written.restarts.length, 2);
  });

  it('a configuration error fails the run at once, without using the restart budget', async () => {
    const { coordinator, connect } = await start({}, config({ runId: 'permanent' }));
    const [a, b] = [connect(), connect()];
    await Promise.all([a.register('worker-0', 'h:0'), b.register('worker-1', 'h:1')]);
    await b.reportFailure({
      workerId: 'worker-1',
      generation: 0,
      reason: 'cannot read --pretrained',
      code: 'CONFIG',
      retryable: false
    });
    const result = await coordinator.done;
    assert.equal(result.state, 'failed');
    assert.match(result.reason, /cannot read --pretrained \(not retryable\)/);
  });

  it('keeps the history, serves /status, /healthz and /metrics, and writes metrics.json when every rank finishes', async () => {
    const { coordinator, connect } = await start({ httpPort: 0 }, config({ runId: 'finish' }));
    const [a, b] = [connect(), connect()];
    await Promise.all([a.register('worker-0', 'h:0'), b.register('worker-1', 'h:1')]);
    await a.reportStep({
      workerId: 'worker-0',
      generation: 0,
      epoch: 0,
      globalStep: 3,
      epochStep: 3,
      epochSteps: 5,
      loss: 1.5,
      accuracy: 0.25,
      images: 8,
      imagesPerSecond: 40,
      computeSeconds: 0.1,
      allreduceSeconds: 0.05
    });
    await a.reportEpoch(epochReport());
    await a.reportEpoch(epochReport({ trainLoss: 1.1, valAccuracy: 0.6 }));
    await a.reportCheckpoint(firstCheckpoint);
    const status = (await (await fetch(`${coordinator.httpAddress}/status`)).json()) as {
      state: string;
      lastStep: { globalStep: number };
      history: { valAccuracy: number }[];
    };
    assert.equal(status.state, 'running');
    assert.equal(status.lastStep.globalStep, 3);
    assert.deepEqual(
      status.history.map((epoch) => epoch.valAccuracy),
      [0.6],
      'a redone epoch replaces its first report'
    );
    assert.equal(await (await fetch(`${coordinator.httpAddress}/healthz`)).text(), 'ok\n');
    const exposition = await (await fetch(`${coordinator.httpAddress}/metrics`)).text();
    for (const line of [
      'ringtrain_train_steps_total 1',
      'ringtrain_train_images_total 8',
      'ringtrain_train_loss_nats 1.5',
      'ringtrain_checkpoint_size_bytes 123',
      'ringtrain_train_phase_seconds_total{phase="allreduce"} 0.05'
    ]) {
      assert.ok(exposition.includes(line), `${line} in /metrics`);
    }
    for (const name of exposition.matchAll(/^# TYPE (\S+)/gm)) assert.match(name[1]!, /^ringtrain_[a-z]+_[a-z_]+$/);
    await a.reportFinished({
      workerId: 'worker-0',
      generation: 0,
      weightsSha256: 'abc',
      summaryJson: JSON.stringify({ safetensors: 'model.safetensors' })
    });
    assert.equal(coordinator.state, 'running', 'the run ends only when every rank has finished');
    await b.reportFinished({ workerId: 'worker-1', generation: 0, weightsSha256: 'abc', summaryJson: '{}' });
    const result = await coordinator.done;
    assert.equal(result.state, 'succeeded');
    const written = JSON.parse(await readFile(path.join(work, 'finish', 'metrics.json'), 'utf8')) as {
      weightsIdentical: boolean;
      final: { valAccuracy: number };
      summary: { safetensors: string };
    };
    assert.equal(written.weightsIdentical, true);
    assert.equal(written.final.valAccuracy, 0.6);
    assert.equal(written.summary.safetensors, 'model.safetensors');
  });

  it('a dataset without validation images gives no validation accuracy (null), not 0%', async () => {
    const { coordinator, connect } = await start({}, config({ runId: 'no-val', workers: 1 }));
    const a = connect();
    await a.register('worker-0', 'h:0');
    await a.reportEpoch(epochReport({ trainLoss: 0.4, valAccuracy: 0, valImages: 0 }));
    await a.reportFinished({ workerId: 'worker-0', generation: 0, weightsSha256: 'abc', summaryJson: '{}' });
    const result = await coordinator.done;
    assert.equal(result.state, 'succeeded');
    const written = JSON.parse(await readFile(path.join(work, 'no-val', 'metrics.json'), 'utf8')) as {
      final: { valAccuracy: number | null; valLoss: number | null; trainLoss: number };
    };
    assert.deepEqual([written.final.valAccuracy, written.final.valLoss, written.final.trainLoss], [null, null, 0.4]);
  });

  it("a run rank 0 ended early (early stopping) gives rank 0's endReason as its reason, in /status and metrics.json", async () => {
    const { coordinator, connect } = await start({ httpPort: 0 }, config({ runId: 'early-stop' }));
    const [a, b] = [connect(), connect()];
    await Promise.all([a.register('worker-0', 'h:0'), b.register('worker-1', 'h:1')]);
    const endReason = 'early stopping: validation accuracy did not improve for 2 epochs (patience 2)';
    // Rank 1 finishes first: only rank 0's summary says why.
    await b.reportFinished({ workerId: 'worker-1', generation: 0, weightsSha256: 'abc', summaryJson: '{}' });
    await a.reportFinished({
      workerId: 'worker-0',
      generation: 0,
      weightsSha256: 'abc',
      summaryJson: JSON.stringify({ globalStep: 30, endReason })
    });
    const result = await coordinator.done;
    assert.deepEqual([result.state, result.reason], ['succeeded', endReason]);
    const status = (await (await fetch(`${coordinator.httpAddress}/status`)).json()) as {
      state: string;
      reason: string;
    };
    assert.deepEqual([status.state, status.reason], ['succeeded', endReason]);
    const written = JSON.parse(await readFile(path.join(work, 'early-stop', 'metrics.json'), 'utf8')) as {
      reason: string;
    };
    assert.equal(written.reason, endReason);
  });

  it('a member of an ended generation that stays silent and does not register again is declared hung too (its step hangs while its peers timed out)', async () => {
    const { coordinator, connect } = await start(
      { heartbeatDeadlineMs: 400 },
      config({ runId: 'hung-after-end', workers: 3 })
    );
    const [a, b, c] = [connect(), connect(), connect()];
    await Promise.all([a.register('worker-0', 'h:0'), b.register('worker-1', 'h:1'), c.register('worker-2', 'h:2')]);
    const lost: string[] = [];
    coordinator.on('workerLost', ({ workerId }) => lost.push(workerId));
    // worker-1's heartbeat thread beats on for a while (told to abort), worker-2's process exited (the supervisor said so).
    let beats = 0;
    const beating = setInterval(() => void (beats++ < 6 ? b.heartbeat('worker-1', 0).catch(() => {}) : undefined), 100);
    try {
      await a.reportFailure({
        workerId: 'worker-0',
        generation: 0,
        reason: 'PEER_LOST: collective timed out waiting for rank 1',
        code: 'TIMEOUT',
        retryable: true
      });
      coordinator.workerExited('worker-2', 'exited with code 137');
      const again = a.register('worker-0', 'h:0').catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.deepEqual(lost, [], 'not while it still beats');
      await new Promise((resolve) => setTimeout(resolve, 900));
      assert.deepEqual(lost, ['worker-1'], 'silent past the deadline after its beats stopped, and not back');
      assert.deepEqual(
        coordinator.status().hungWorkers.map((each) => [each.workerId, each.rank]),
        [['worker-1', 1]]
      );
      assert.equal(coordinator.status().restarts.length, 1, 'the generation had ended already: no second restart');
      await new Promise((resolve) => setTimeout(resolve, 600));
      assert.deepEqual(lost, ['worker-1'], 'declared once');
      void again;
    } finally {
      clearInterval(beating);
    }
  });

  it('once finishing, nothing reopens the run: a failure report, a lost worker or a registration during the final write form no generation and count no restart', async () => {
    const { coordinator, connect } = await start({}, config({ runId: 'finishing' }));
    const [a, b, late] = [connect(), connect(), connect()];
    await Promise.all([a.register('worker-0', 'h:0'), b.register('worker-1', 'h:1')]);
    const after: string[] = [];
    coordinator.on('restart', ({ reason }) => after.push(`restart: ${reason}`));
    coordinator.on('generation', ({ generation }) => after.push(`generation ${generation}`));
    await a.reportFinished({ workerId: 'worker-0', generation: 0, weightsSha256: 'abc', summaryJson: '{}' });
    await b.reportFinished({ workerId: 'worker-1', generation: 0, weightsSha256: 'abc', summaryJson: '{}' });
    // metrics.json is being written: the run is finishing, not finished.
    const failure = a.reportFailure({
      workerId: 'worker-0',
      generation: 0,
      reason: 'PEER_LOST: link closed at exit',
      code: 'PEER_LOST',
      retryable: true
    });
    coordinator.workerExited('worker-1', 'exited with code 1');
    const registration = late.register('worker-0', 'h:0b');
    await failure;
    const result = await coordinator.done;
    assert.equal((await registration).ended, true);
    assert.equal(result.state, 'succeeded');
    assert.deepEqual(after, []);
    assert.deepEqual(result.metrics.restarts, []);
    assert.equal(result.metrics.generations, 1);
  });

  it('a stop request reaches the workers through their heartbeats; a stop before any generation ends the run at once', async () => {
    const { coordinator, connect } = await start({}, config({ runId: 'stop' }));
    const [a, b] = [connect(), connect()];
    await Promise.all([a.register('worker-0', 'h:0'), b.register('worker-1', 'h:1')]);
    coordinator.requestStop('interrupted');
    assert.equal((await a.heartbeat('worker-0', 0)).stop, true);
    const idle = await start({}, config({ runId: 'stop-idle' }));
    idle.coordinator.requestStop('interrupted');
    assert.equal((await idle.coordinator.done).state, 'stopped');
  });

  it('a restarted coordinator carries the run on from its record: history, checkpoints, later generation numbers, the interruption counted; a finished run stays finished', async () => {
    const runConfig = config({ runId: 'recover' });
    const record = path.join(work, 'recover', 'run-record.json');
    const first = await start({}, runConfig);
    const [a, b] = [first.connect(), first.connect()];
    await Promise.all([a.register('worker-0', 'h:0'), b.register('worker-1', 'h:1')]);
    await a.reportEpoch(epochReport());
    await a.reportCheckpoint(firstCheckpoint);
    for (;;) {
      const written = await readFile(record, 'utf8').then(
        (text) => JSON.parse(text) as { checkpoints: unknown[] },
        () => undefined
      );
      if (written?.checkpoints.length === 1) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // The first coordinator is never closed: as after a crash, its successor finds the record still 'running'.
    const second = await start({}, runConfig);
    const [c, d] = [second.connect(), second.connect()];
    const [joined] = await Promise.all([c.register('worker-0', 'h:0'), d.register('worker-1', 'h:1')]);
    assert.equal(joined.ended ? -1 : joined.assignment.generation, 1, 'the generation after the last one started');
    const status = second.coordinator.status();
    assert.deepEqual(
      status.history.map((epoch) => epoch.valAccuracy),
      [0.5]
    );
    assert.deepEqual(
      status.checkpoints.map((checkpoint) => checkpoint.globalStep),
      [5]
    );
    await c.reportFinished({ workerId: 'worker-0', generation: 1, weightsSha256: 'abc', summaryJson: '{}' });
    await d.reportFinished({ workerId: 'worker-1', generation: 1, weightsSha256: 'abc', summaryJson: '{}' });
    const result = await second.coordinator.done;
    assert.equal(result.state, 'succeeded');
    assert.deepEqual(
      result.metrics.restarts.map((restart) => restart.reason),
      ['the coordinator restarted: generation 0 was interrupted']
    );
    assert.equal(result.metrics.epochs.length, 1);
    const third = await start({}, runConfig);
    assert.equal((await third.coordinator.done).state, 'succeeded');
    const late = await third.connect().register('worker-0', 'h:0');
    assert.equal(late.ended, true);
  });

  it("refuses to start on an output that holds another run's record", async () => {
    const { connect, coordinator } = await start(
      {},
      config({ runId: 'first-owner', out: path.join(work, 'shared-out') })
    );
    const [a, b] = [connect(), connect()];
    await Promise.all([a.register('worker-0', 'h:0'), b.register('worker-1', 'h:1')]);
    await coordinator.close();
    await assert.rejects(
      Coordinator.start({
        config: config({ runId: 'second-owner', out: path.join(work, 'shared-out') }),
        token: TOKEN,
        logger: silent
      }),
      /holds the record of run first-owner, not of second-owner: give this run its own output URI/
    );
  });

  it('a worker told to stop stops waiting for its gang at once, whether the coordinator answers or is gone', async () => {
    const { connect } = await start({}, config({ runId: 'abort-wait' }));
    const waiting = new AbortController();
    const pending = connect().register('worker-0', 'h:0', waiting.signal);
    await new Promise((resolve) => setTimeout(resolve, 100));
    waiting.abort();
    await assert.rejects(pending, RegistrationAbortedError);
    const nobody = new CoordinatorConnection('127.0.0.1:1', TOKEN, { deadlineMs: Infinity });
    const gone = new AbortController();
    const retrying = nobody.register('worker-0', 'h:0', gone.signal);
    setTimeout(() => gone.abort(), 300);
    const started = Date.now();
    await assert.rejects(retrying, RegistrationAbortedError);
    assert.ok(Date.now() - started < 2_000, 'no retry delay outlives the stop');
    nobody.close();
  });
});
