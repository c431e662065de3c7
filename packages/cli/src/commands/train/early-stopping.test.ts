import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeSafetensors } from '@ringtrain/model';
import { digitsDataset, ringtrainBin, runCli, smallDigitsRun, TEST_BACKEND } from '../../run-cli.test-helper.js';

/** A real run of 2 worker processes: a minute or more on two cores. */
const slow = process.env.RINGTRAIN_SKIP_SLOW_TESTS === '1' ? 'RINGTRAIN_SKIP_SLOW_TESTS=1' : false;

interface Metrics {
  state: string;
  reason: string;
  restarts: { reason: string }[];
  weightsIdentical: boolean;
  epochs: { epoch: number; valAccuracy: number; valImages: number }[];
  summary: { bestModel?: string; bestEpoch?: number; bestValAccuracy?: number; endReason?: string };
}

/**
 * A learning rate far below float32's resolution of the head's weights, with the backbone and its batch norm
 * frozen: the model never changes, so validation accuracy never rises after epoch 1, on any backend.
 */
const FROZEN_MODEL = ['--freeze-backbone', '--freeze-batch-norm', '--lr', '1e-12'];

/** A frozen model with a patience of 2 epochs and no step checkpoints: it stops after epoch 3 of 8. */
const STOPS_AFTER_PATIENCE = [...FROZEN_MODEL, '--early-stopping-patience', '2', '--checkpoint-every', '0'];

/**
 * `ringtrain train` that SIGKILLs worker-1 once the run's /status shows step `step` of epoch `epoch` (0-based),
 * as a crashed process; the local supervisor restarts it and the ranks roll back to the last checkpoint.
 */
async function trainKillingWorker(
  args: string[],
  out: string,
  at: { epoch: number; step: number }
): Promise<{ code: number; stdout: string; stderr: string; killed: boolean }> {
  const child = spawn(process.execPath, [ringtrainBin, 'train', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let killed = false;
  let watching = false;
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    const statusUrl = /status at (http:\/\/\S+\/status)/.exec(stderr)?.[1];
    if (watching || statusUrl === undefined) return;
    watching = true;
    void (async () => {
      for (;;) {
        const status = (await (await fetch(statusUrl)).json()) as { lastStep?: { epoch: number; epochStep: number } };
        const last = status.lastStep;
        if (last !== undefined && (last.epoch > at.epoch || (last.epoch === at.epoch && last.epochStep >= at.step)))
          break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const log = await readFile(path.join(out, 'logs', 'worker-1.log'), 'utf8');
      process.kill((JSON.parse(log.split('\n')[0]!) as { pid: number }).pid, 'SIGKILL');
      killed = true;
    })().catch(() => undefined);
  });
  const code = await new Promise<number>((resolve) => child.once('close', (exit) => resolve(exit ?? 1)));
  return { code, stdout, stderr, killed };
}

describe('ringtrain train: the best model, early stopping and TensorBoard', () => {
  let work = '';
  let dataset = '';
  before(async () => {
    ({ work, dataset } = await digitsDataset('ringtrain-early-stopping-', 20, 0.2));
  });
  after(() => rm(work, { recursive: true, force: true }));

  it('rejects a patience below one epoch', async () => {
    const run = await runCli([
      'train',
      '--data',
      dataset,
      '--early-stopping-patience',
      '0',
      '--out',
      path.join(work, 'bad')
    ]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--early-stopping-patience/);
  });

  it(
    '[slow] a run that stops improving ends after `patience` epochs, with the reason, model-best/ and TensorBoard logs',
    { skip: slow, timeout: 15 * 60_000 },
    async () => {
      const out = path.join(work, 'early');
      const run = await runCli([
        'train',
        ...smallDigitsRun(dataset, out, { epochs: 8 }),
        ...STOPS_AFTER_PATIENCE,
        '--json'
      ]);
      assert.equal(run.code, 0, run.stderr);
      const result = JSON.parse(run.stdout) as {
        state: string;
        reason: string;
        bestModel?: string;
        tensorboard?: string;
      };
      assert.equal(result.state, 'succeeded');
      const reason =
        /^early stopping: validation accuracy did not improve for 2 epochs \(patience 2\); the best, [\d.]+% after epoch 1, is in model-best\/$/;
      assert.match(result.reason, reason, 'the coordinator’s reason (its /status) says why the run ended');

      const metrics = JSON.parse(await readFile(path.join(out, 'metrics.json'), 'utf8')) as Metrics;
      assert.equal(metrics.state, 'succeeded');
      assert.match(metrics.reason, reason);
      assert.equal(metrics.epochs.length, 3, 'epoch 1 is the best; epochs 2 and 3 use up the patience; 4–8 never run');
      assert.ok(metrics.epochs.every((epoch) => epoch.valAccuracy === metrics.epochs[0]!.valAccuracy));
      assert.equal(metrics.weightsIdentical, true, 'both ranks stopped after the same epoch, with the same model');

      assert.equal(result.bestModel, path.join(out, 'model-best'));
      const best = JSON.parse(await readFile(path.join(out, 'model-best', 'best.json'), 'utf8')) as {
        epoch: number;
        valAccuracy: number;
      };
      assert.equal(best.epoch, 1);
      assert.equal(best.valAccuracy, metrics.epochs[0]!.valAccuracy);
      assert.deepEqual([metrics.summary.bestEpoch, metrics.summary.bestValAccuracy], [1, best.valAccuracy]);
      for (const dir of ['model', 'model-best']) {
        const weights = decodeSafetensors(await readFile(path.join(out, dir, 'model.safetensors')));
        assert.deepEqual(weights.tensors.get('fc.weight')!.shape, [10, 512], `${dir}/model.safetensors`);
        assert.ok(JSON.parse(await readFile(path.join(out, dir, 'tfjs', 'model.json'), 'utf8')).weightsManifest);
        assert.equal(JSON.parse(await readFile(path.join(out, dir, 'labels.json'), 'utf8')).length, 10);
      }

      const evaluated = await runCli([
        'eval',
        path.join(out, 'model-best'),
        '--data',
        dataset,
        '--json',
        '--backend',
        TEST_BACKEND,
        '--threads',
        '1'
      ]);
      assert.equal(evaluated.code, 0, evaluated.stderr);
      const report = JSON.parse(evaluated.stdout) as { count: number; accuracy: number };
      assert.deepEqual(
        [report.count, report.accuracy],
        [metrics.epochs[0]!.valImages, best.valAccuracy],
        'ringtrain eval of model-best/ reproduces the best validation accuracy'
      );

      assert.equal(result.tensorboard, path.join(out, 'tb'));
      const files = (await readdir(path.join(out, 'tb'))).sort();
      assert.ok(files.length >= 1 && files.every((name) => name.startsWith('events.out.tfevents.')), String(files));
      const events = Buffer.concat(await Promise.all(files.map((name) => readFile(path.join(out, 'tb', name)))));
      for (const tag of ['train/loss', 'train/learning_rate', 'time/allreduce_seconds', 'val/accuracy', 'val/loss'])
        assert.ok(events.includes(tag), `the event files log ${tag}`);
    }
  );

  it(
    '[slow] a worker killed mid-run: the restarted generation keeps counting the patience from the checkpoint',
    { skip: slow, timeout: 15 * 60_000 },
    async () => {
      const out = path.join(work, 'restart');
      const run = await trainKillingWorker(
        [...smallDigitsRun(dataset, out, { epochs: 8, batchSize: 8 }), ...STOPS_AFTER_PATIENCE, '--json'],
        out,
        // Inside epoch 2: the rollback goes to epoch 1's checkpoint, whose books name epoch 1 the best.
        { epoch: 1, step: 2 }
      );
      assert.ok(run.killed, 'the test killed worker-1');
      assert.equal(run.code, 0, run.stderr);
      const metrics = JSON.parse(await readFile(path.join(out, 'metrics.json'), 'utf8')) as Metrics;
      assert.ok(metrics.restarts.length >= 1, 'the run restarted');
      // Books lost in the restart would make epoch 2 the best and stop only after epoch 4.
      assert.match(
        metrics.reason,
        /^early stopping: validation accuracy did not improve for 2 epochs \(patience 2\); the best, [\d.]+% after epoch 1,/
      );
      assert.equal(metrics.epochs.length, 3);
      assert.equal(metrics.weightsIdentical, true);
      const writers = new Set((await readdir(path.join(out, 'tb'))).map((name) => name.split('.ringtrain.')[0]));
      assert.ok(
        writers.size >= 2,
        'the restarted generation logs to TensorBoard files of its own, sorted after the first'
      );
    }
  );
});
