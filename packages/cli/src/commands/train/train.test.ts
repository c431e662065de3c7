import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { epochOrder, loadManifest, shardSampleCounts } from '@ringtrain/dataset';
import { decodeSafetensors } from '@ringtrain/model';
import { digitsDataset, ringtrainBin, runCli, smallDigitsRun, TEST_BACKEND } from '../../run-cli.test-helper.js';

/**
 * Real runs of `ringtrain train`: the CLI process runs the coordinator, each rank is its own worker process,
 * the data are handwritten digits from the mnist package at 32×32. The runs are small, but each still takes a
 * minute or more on two cores: RINGTRAIN_SKIP_SLOW_TESTS=1 skips them.
 */
const slow = process.env.RINGTRAIN_SKIP_SLOW_TESTS === '1' ? 'RINGTRAIN_SKIP_SLOW_TESTS=1' : false;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `ringtrain train`; `onStarted` gets the coordinator's /status URL and the CLI process once it prints them. */
function train(args: string[], onStarted?: (statusUrl: string, child: ChildProcess) => void): Promise<Run> {
  const child = spawn('nice', ['-n', '5', process.execPath, ringtrainBin, 'train', ...args], {
    stdio: ['ignore', 'pipe', 'pipe']
  });
  let stdout = '';
  let stderr = '';
  let started = false;
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    const status = /status at (http:\/\/\S+\/status)/.exec(stderr)?.[1];
    if (!started && status !== undefined) {
      started = true;
      onStarted?.(status, child);
    }
  });
  return new Promise((resolve) => child.once('close', (code) => resolve({ code: code ?? 1, stdout, stderr })));
}

/** Polls /status until the run has taken `steps` steps of its first epoch. */
async function untilStep(statusUrl: string, steps: number): Promise<void> {
  for (;;) {
    const status = (await (await fetch(statusUrl)).json()) as { lastStep?: { epoch: number; epochStep: number } };
    if (status.lastStep !== undefined && status.lastStep.epoch === 0 && status.lastStep.epochStep >= steps) return;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

/** Signals a worker process of a run; its pid is in the first line of its JSON log. */
async function signalWorker(out: string, workerId: string, signal: NodeJS.Signals): Promise<void> {
  const log = await readFile(path.join(out, 'logs', `${workerId}.log`), 'utf8');
  process.kill((JSON.parse(log.split('\n')[0]!) as { pid: number }).pid, signal);
}

interface Metrics {
  state: string;
  restarts: { reason: string }[];
  weightsIdentical: boolean;
  weightsSha256: string[];
  final: { valAccuracy: number };
  epochs: {
    epoch: number;
    samplesTrained: number;
    samplesDropped: number;
    sampleChecksum: string;
    valImages: number;
  }[];
  config: { seed: number; partitions: number };
}

const readMetrics = async (out: string): Promise<Metrics> =>
  JSON.parse(await readFile(path.join(out, 'metrics.json'), 'utf8')) as Metrics;

/** Σ index and Σ index² of the samples an epoch must train on exactly once: O[0, total − dropped). */
async function expectedChecksum(dataset: string, metrics: Metrics, epoch: number, dropped: number): Promise<string> {
  const { manifest } = await loadManifest(dataset);
  const { order } = epochOrder(
    shardSampleCounts(manifest.splits.train),
    metrics.config.seed,
    epoch,
    metrics.config.partitions
  );
  let sum = 0n;
  let squares = 0n;
  for (const sample of order.subarray(0, order.length - dropped)) {
    sum += BigInt(sample);
    squares += BigInt(sample) * BigInt(sample);
  }
  return `${sum}:${squares}`;
}

async function assertExactAccounting(dataset: string, metrics: Metrics): Promise<void> {
  const { manifest } = await loadManifest(dataset);
  for (const epoch of metrics.epochs) {
    assert.equal(
      epoch.samplesTrained + epoch.samplesDropped,
      manifest.splits.train.count,
      `epoch ${epoch.epoch}: every sample trained once or dropped`
    );
    assert.equal(
      epoch.sampleChecksum,
      await expectedChecksum(dataset, metrics, epoch.epoch, epoch.samplesDropped),
      `epoch ${epoch.epoch}: exactly the planned samples`
    );
  }
}

describe('ringtrain train', () => {
  let work = '';
  let dataset = '';
  before(async () => {
    ({ work, dataset } = await digitsDataset('ringtrain-train-', 40, 0.2));
  });
  after(() => rm(work, { recursive: true, force: true }));

  /** A small real run: 2 workers × batch 16 of the 32×32 digits for `epochs` epochs, on the test backend. */
  const smallRun = (out: string, epochs: number): string[] => smallDigitsRun(dataset, out, { epochs });

  it('rejects a run without data, and --resume of an output that holds no run, with the fix', async () => {
    const none = await train(['--out', path.join(work, 'none')]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /--data: give --data <ImageFolder dir or dataset URI>, or --demo/);
    const resume = await train(['--resume', '--out', path.join(work, 'empty')]);
    assert.equal(resume.code, 2);
    assert.match(resume.stderr, /--resume: .* holds no checkpointed run/);
    const missing = await train(['--data', path.join(work, 'no-such-dir'), '--out', path.join(work, 'missing')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no-such-dir: no such directory/);
    const weights = await train([
      '--data',
      dataset,
      '--pretrained',
      path.join(work, 'nope.safetensors'),
      '--out',
      path.join(work, 'no-weights')
    ]);
    assert.equal(weights.code, 2);
    assert.match(weights.stderr, /--pretrained .*nope.safetensors: no such file/);
  });

  it('--dry-run prints the plan from the real counts and exits 0 without starting a coordinator or workers', async () => {
    const out = path.join(work, 'dry-run');
    const run = await train([...smallRun(out, 3), '--dry-run']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stdout,
      /data: +10 classes \(0, 1, 2, 3, 4, 5, 6, 7, 8, 9\); 400 images: 320 for training, 80 for validation/
    );
    assert.match(run.stdout, /batch: +2 workers × 16 images per worker = global batch 32/);
    assert.match(run.stdout, /320 training images ÷ global batch 32 = 10 iterations per epoch/);
    assert.match(run.stdout, /epochs: +3 epochs × 10 iterations = 30 iterations/);
    assert.match(run.stdout, /optimizer: +Adam, learning rate 0\.001/);
    assert.doesNotMatch(run.stderr, /dashboard at/);
    await assert.rejects(readFile(path.join(out, 'run.json')), 'a dry run leaves no run behind');
    const json = await train([
      '--data',
      dataset,
      '--workers',
      '4',
      '--batch-size',
      '8',
      '--out',
      out,
      '--dry-run',
      '--json'
    ]);
    assert.equal(json.code, 0, json.stderr);
    const { plan } = JSON.parse(json.stdout) as {
      plan: { globalBatch: number; iterationsPerEpoch: number; imageSize: number };
    };
    assert.deepEqual([plan.globalBatch, plan.iterationsPerEpoch, plan.imageSize], [32, 10, 224]);
  });

  it(
    '[slow] trains 2 worker processes to a useful model: accuracy > 50%, bit-identical ranks, exact sample accounting',
    { skip: slow, timeout: 15 * 60_000 },
    async () => {
      const out = path.join(work, 'e2e');
      const run = await train([...smallRun(out, 3), '--json']);
      assert.equal(run.code, 0, run.stderr);
      const result = JSON.parse(run.stdout) as { state: string; valAccuracy: number };
      assert.equal(result.state, 'succeeded');
      const metrics = await readMetrics(out);
      assert.equal(metrics.epochs.length, 3);
      // 10 classes: chance is 10%.
      assert.ok(metrics.final.valAccuracy > 0.5, `validation accuracy ${metrics.final.valAccuracy}`);
      assert.equal(metrics.epochs[2]!.valImages, 80, 'every validation image counted once across ranks');
      assert.equal(metrics.weightsSha256.length, 2);
      assert.equal(metrics.weightsIdentical, true);
      await assertExactAccounting(dataset, metrics);
      const weights = decodeSafetensors(await readFile(path.join(out, 'model', 'model.safetensors')));
      assert.deepEqual(weights.tensors.get('fc.weight')!.shape, [10, 512]);
      assert.deepEqual(JSON.parse(await readFile(path.join(out, 'model', 'labels.json'), 'utf8')), [
        '0',
        '1',
        '2',
        '3',
        '4',
        '5',
        '6',
        '7',
        '8',
        '9'
      ]);
      assert.ok(JSON.parse(await readFile(path.join(out, 'model', 'tfjs', 'model.json'), 'utf8')).weightsManifest);
      assert.match(run.stderr, /epoch 3\/3 done .* val loss [\d.]+ acc [\d.]+%/);
      const workerLog = await readFile(path.join(out, 'logs', 'worker-1.log'), 'utf8');
      assert.equal(
        workerLog.match(/"planSource":"dataset-service"/g)?.length,
        3,
        'each epoch plan came from the dataset service'
      );
      const evaluated = await runCli(['eval', out, '--json', '--backend', TEST_BACKEND, '--threads', '1']);
      assert.equal(evaluated.code, 0, evaluated.stderr);
      const report = JSON.parse(evaluated.stdout) as { count: number; correct: number; accuracy: number };
      assert.equal(report.count, 80);
      assert.equal(
        report.accuracy,
        metrics.final.valAccuracy,
        'ringtrain eval on the saved model reproduces the accuracy the run reported'
      );
    }
  );

  it(
    '[slow] survives a worker killed mid-epoch: the supervisor restarts it, all ranks roll back, no sample lost or repeated',
    { skip: slow, timeout: 15 * 60_000 },
    async () => {
      const out = path.join(work, 'chaos');
      let killed = false;
      const run = await train(
        [...smallRun(out, 1), '--checkpoint-every', '3', '--json'],
        (statusUrl) =>
          void (async () => {
            // Step 4 of 10: one step past the checkpoint at step 3, so the rollback redoes work.
            await untilStep(statusUrl, 4);
            await signalWorker(out, 'worker-1', 'SIGKILL');
            killed = true;
          })()
      );
      assert.ok(killed, 'the test killed worker-1');
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, /worker-1 was killed by SIGKILL; restarting it/);
      const metrics = await readMetrics(out);
      assert.equal(metrics.state, 'succeeded');
      assert.ok(metrics.restarts.length >= 1);
      assert.match(metrics.restarts[0]!.reason, /worker-1/);
      assert.equal(metrics.epochs.length, 1);
      assert.equal(metrics.weightsIdentical, true);
      await assertExactAccounting(dataset, metrics);
    }
  );

  it(
    '[slow] a stalled worker (SIGSTOP) misses its heartbeats: it is killed and restarted, the others abort at once, the run completes',
    { skip: slow, timeout: 15 * 60_000 },
    async () => {
      const out = path.join(work, 'stall');
      let stalled = false;
      const run = await train(
        [...smallRun(out, 1), '--checkpoint-every', '3', '--heartbeat-timeout', '30', '--json'],
        (statusUrl) =>
          void (async () => {
            await untilStep(statusUrl, 4);
            await signalWorker(out, 'worker-1', 'SIGSTOP');
            stalled = true;
          })()
      );
      assert.ok(stalled, 'the test stopped worker-1');
      assert.equal(run.code, 0, run.stderr);
      const metrics = await readMetrics(out);
      assert.equal(metrics.state, 'succeeded');
      assert.match(
        metrics.restarts[0]!.reason,
        /worker-1 \(rank 1\) sent no heartbeat for [\d.]+ s: hung or unreachable/
      );
      assert.match(run.stderr, /worker-1 was killed by SIGKILL; restarting it/);
      assert.equal(metrics.weightsIdentical, true);
      await assertExactAccounting(dataset, metrics);
    }
  );

  it(
    '[slow] Ctrl-C stops after the current step leaving a checkpoint; --resume finishes the run exactly',
    { skip: slow, timeout: 15 * 60_000 },
    async () => {
      const out = path.join(work, 'stop-resume');
      const args = [...smallRun(out, 1), '--checkpoint-every', '0'];
      const stopped = await train(
        args,
        (statusUrl, child) => void untilStep(statusUrl, 3).then(() => child.kill('SIGINT'))
      );
      assert.equal(stopped.code, 130, stopped.stderr);
      assert.match(stopped.stderr, /training stopped: .*continue with: ringtrain train --resume --out/);
      const pointer = JSON.parse(await readFile(path.join(out, 'checkpoints', 'latest.json'), 'utf8')) as {
        cursor: { epoch: number; samplesConsumed: number };
      };
      assert.equal(pointer.cursor.epoch, 0);
      assert.ok(
        pointer.cursor.samplesConsumed >= 3 * 32 && pointer.cursor.samplesConsumed % 32 === 0,
        `cursor at ${pointer.cursor.samplesConsumed}`
      );
      const resumed = await train(['--resume', '--out', out, '--json']);
      assert.equal(resumed.code, 0, resumed.stderr);
      const metrics = await readMetrics(out);
      assert.equal(metrics.state, 'succeeded');
      assert.equal(metrics.epochs.length, 1);
      assert.equal(metrics.weightsIdentical, true);
      await assertExactAccounting(dataset, metrics);
    }
  );

  it(
    '[slow] 2 workers × batch B take the same step as 1 worker × batch 2B in micro-batches of B (the mean is right)',
    { skip: slow, timeout: 10 * 60_000 },
    async () => {
      // One thread in every worker of both runs: TensorFlow's convolution gradients change by up to 1e-3 relative
      // with its thread count (it picks other kernels), which would hide what this compares.
      const common = [
        '--compute-threads',
        '1',
        '--data',
        dataset,
        '--epochs',
        '1',
        '--max-steps',
        '1',
        '--image-size',
        '32',
        '--optimizer',
        'sgd',
        '--lr',
        '0.5',
        '--momentum',
        '0',
        '--partitions',
        '2',
        '--checkpoint-every',
        '0',
        '--backend',
        TEST_BACKEND,
        '--json'
      ];
      const twoRanks = path.join(work, 'two-ranks');
      const oneRank = path.join(work, 'one-rank');
      const first = await train([...common, '--workers', '2', '--batch-size', '4', '--out', twoRanks]);
      assert.equal(first.code, 0, first.stderr);
      const second = await train([
        ...common,
        '--workers',
        '1',
        '--batch-size',
        '8',
        '--micro-batch-size',
        '4',
        '--out',
        oneRank
      ]);
      assert.equal(second.code, 0, second.stderr);
      const read = async (out: string) =>
        decodeSafetensors(await readFile(path.join(out, 'model', 'model.safetensors'))).tensors;
      const [a, b] = [await read(twoRanks), await read(oneRank)];
      const values = (bytes: Uint8Array) =>
        new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      let compared = 0;
      let worst = 0;
      for (const [name, tensor] of a) {
        // Running statistics are batch-norm state, not parameters: rank-local by design (BN aside).
        if (/running_|num_batches/.test(name)) continue;
        const [x, y] = [values(tensor.data), values(b.get(name)!.data)];
        for (let i = 0; i < x.length; i += 1) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
        compared += x.length;
      }
      assert.ok(compared > 11_000_000, `${compared} parameters compared`);
      assert.ok(worst < 1e-5, `largest difference ${worst}`);
      // The step was real: batch-norm scales start at exactly 1 (torchvision's init) and moved far beyond the tolerance.
      const moved = Math.max(...values(a.get('bn1.weight')!.data).map((scale) => Math.abs(scale - 1)));
      assert.ok(moved > 1e-3, `bn1.weight moved by ${moved}`);
    }
  );
});
