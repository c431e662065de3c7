import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ingest, loadManifest } from '@ringtrain/dataset';
import { writeMnistImageFolder } from '../train/demo-data.js';
import { ringtrainBin as bin, runCli } from '../../run-cli.test-helper.js';
import { freePort } from '@ringtrain/testing';

const slow = process.env.RINGTRAIN_SKIP_SLOW_TESTS === '1' ? 'RINGTRAIN_SKIP_SLOW_TESTS=1' : false;
const WITH_SECRET: NodeJS.ProcessEnv = { ...process.env, RINGTRAIN_TOKEN: 'a-token-of-sufficient-length' };

describe('ringtrain coordinator', () => {
  let work = '';
  let config = '';
  /** Writes `<name>.json`: a run of 2 workers, 1 epoch and batch 8 unless `fields` say otherwise; returns its path. */
  const runJson = async (name: string, fields: Record<string, unknown>): Promise<string> => {
    const file = path.join(work, `${name}.json`);
    const run = { workers: 2, epochs: 1, batchSize: 8, partitions: 2, training: { numClasses: 3 }, cacheDir: work };
    await writeFile(file, JSON.stringify({ ...run, ...fields }));
    return file;
  };
  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-cli-coordinator-'));
    config = await runJson('run', {
      runId: 'run-cli',
      dataset: path.join(work, 'dataset'),
      out: path.join(work, 'out')
    });
  });
  after(() => rm(work, { recursive: true, force: true }));

  it('serves /healthz and /status, logs JSON, and stops cleanly on SIGTERM with exit code 130', async () => {
    const child = spawn(process.execPath, [bin, 'coordinator', '--config', config, '--port', '0', '--http-port', '0'], {
      env: WITH_SECRET,
      stdio: ['ignore', 'ignore', 'pipe']
    });
    let stderr = '';
    const http = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        const line = stderr.split('\n').find((each) => each.includes('coordinator listening'));
        if (line !== undefined) resolve((JSON.parse(line) as { http: string }).http);
      });
      child.once('exit', () => reject(new Error(`the coordinator exited early: ${stderr}`)));
    });
    assert.equal(await (await fetch(`${http}/healthz`)).text(), 'ok\n');
    const status = (await (await fetch(`${http}/status`)).json()) as {
      runId: string;
      state: string;
      worldSize: number;
    };
    assert.deepEqual([status.runId, status.state, status.worldSize], ['run-cli', 'rendezvous', 2]);
    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exit, 130);
    assert.match(stderr, /the run stopped/);
  });

  it('exits 65 (bad data, not retried) with the reason as its last line when the run’s ingest fails on a missing source', async () => {
    const failing = await runJson('run-ingest', {
      runId: 'run-ingest',
      dataset: path.join(work, 'never-made'),
      out: path.join(work, 'out-ingest'),
      training: {},
      ingest: { source: path.join(work, 'no-such-images') }
    });
    const { code, stderr } = await runCli(
      ['coordinator', '--config', failing, '--port', '0', '--http-port', '0'],
      WITH_SECRET
    );
    assert.equal(code, 65, stderr);
    assert.match(
      stderr.trim().split('\n').at(-1) ?? '',
      /^ringtrain: ingesting .*no-such-images into .*never-made failed: ingest source .* does not exist/
    );
  });

  it('exits 75 (storage unavailable, retryable) when its object storage stays unreachable past --reconnect-deadline, after a warning per retry', async () => {
    const unreachable = await runJson('run-unreachable', {
      runId: 'run-unreachable',
      dataset: 's3://datasets/x',
      out: 's3://runs/x'
    });
    const started = Date.now();
    const { code, stderr } = await runCli(
      ['coordinator', '--config', unreachable, '--port', '0', '--http-port', '0', '--reconnect-deadline', '2'],
      // Nothing listens on port 1: every request is refused, as while MinIO restarts.
      {
        ...WITH_SECRET,
        RINGTRAIN_S3_ENDPOINT: 'http://127.0.0.1:1',
        AWS_ACCESS_KEY_ID: 'k',
        AWS_SECRET_ACCESS_KEY: 's'
      }
    );
    assert.equal(code, 75, stderr);
    assert.ok(
      (
        stderr.match(
          /waiting for object storage at http:\/\/127\.0\.0\.1:1 \(s3:\/\/runs\/x\/[^)]*\): unreachable for/g
        ) ?? []
      ).length >= 2,
      stderr
    );
    assert.match(
      stderr.trim().split('\n').at(-1) ?? '',
      /^ringtrain: object storage at http:\/\/127\.0\.0\.1:1 unreachable for 2 s, past the reconnect deadline of 2 s/
    );
    assert.ok(Date.now() - started < 30_000);
  });

  it('refuses to start without the run secret', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.RINGTRAIN_TOKEN;
    const { code, stderr } = await runCli(['coordinator', '--config', config], env);
    assert.equal(code, 2, stderr);
    assert.match(stderr, /RINGTRAIN_TOKEN must hold the run secret/);
  });

  it(
    '[slow] a coordinator killed mid-run and started again recovers the run from its record: the workers re-register and finish it',
    { skip: slow, timeout: 15 * 60_000 },
    async () => {
      await writeMnistImageFolder(path.join(work, 'digits'), 20);
      const dataset = path.join(work, 'digits-dataset');
      await ingest({ source: path.join(work, 'digits'), to: dataset, valFraction: 0.2, seed: 1 });
      const out = path.join(work, 'recover-out');
      const recoverConfig = await runJson('recover', {
        runId: 'run-recover',
        dataset,
        out,
        epochs: 2,
        checkpointEverySteps: 3,
        training: { numClasses: 10, imageSize: 32 },
        cacheDir: path.join(work, 'recover-cache'),
        backend: 'wasm',
        heartbeatIntervalMs: 500,
        coordinatorLostMs: 3_000
      });
      const [grpcPort, httpPort] = [await freePort(), await freePort()];
      const env = WITH_SECRET;
      const coordinator = () =>
        spawn(
          'nice',
          [
            '-n',
            '5',
            process.execPath,
            bin,
            'coordinator',
            '--config',
            recoverConfig,
            '--port',
            String(grpcPort),
            '--http-port',
            String(httpPort)
          ],
          { env, stdio: 'ignore' }
        );
      const exited = (child: ReturnType<typeof spawn>) =>
        new Promise<number | null>((resolve) => child.once('exit', resolve));
      const firstCoordinator = coordinator();
      const workers = ['worker-0', 'worker-1'].map((id) =>
        spawn(
          'nice',
          ['-n', '5', process.execPath, bin, 'worker', '--coordinator', `127.0.0.1:${grpcPort}`, '--worker-id', id],
          { env, stdio: 'ignore' }
        )
      );
      const workerExits = workers.map(exited);
      try {
        // Into the second epoch, past a checkpoint: the first epoch's report lives only in the record.
        for (;;) {
          const status = await fetch(`http://127.0.0.1:${httpPort}/status`).then(
            (response) =>
              response.json() as Promise<{ history: unknown[]; lastStep?: { epoch: number; epochStep: number } }>,
            () => undefined
          );
          if (
            status !== undefined &&
            status.history.length === 1 &&
            status.lastStep !== undefined &&
            status.lastStep.epoch === 1 &&
            status.lastStep.epochStep >= 4
          )
            break;
          await new Promise((resolve) => setTimeout(resolve, 300));
        }
        firstCoordinator.kill('SIGKILL');
        await exited(firstCoordinator);
        const secondCoordinator = coordinator();
        assert.equal(await exited(secondCoordinator), 0, 'the restarted coordinator ends the run as succeeded');
        assert.deepEqual(await Promise.all(workerExits), [0, 0]);
        const metrics = JSON.parse(await readFile(path.join(out, 'metrics.json'), 'utf8')) as {
          state: string;
          restarts: { reason: string }[];
          weightsIdentical: boolean;
          epochs: { epoch: number; samplesTrained: number; samplesDropped: number }[];
        };
        assert.equal(metrics.state, 'succeeded');
        assert.deepEqual(
          metrics.epochs.map((epoch) => epoch.epoch),
          [0, 1],
          'the first epoch carried over from the record'
        );
        assert.match(metrics.restarts[0]!.reason, /the coordinator restarted: generation 0 was interrupted/);
        assert.equal(metrics.weightsIdentical, true);
        const { manifest } = await loadManifest(dataset);
        for (const epoch of metrics.epochs)
          assert.equal(
            epoch.samplesTrained + epoch.samplesDropped,
            manifest.splits.train.count,
            `epoch ${epoch.epoch}: every sample once`
          );
      } finally {
        for (const child of [firstCoordinator, ...workers]) child.kill('SIGKILL');
      }
    }
  );
});
