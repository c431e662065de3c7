import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { Coordinator } from '@ringtrain/coordinator';
import { EXIT_CODES, loadProto, type CoordinatorProto, type RegisterResponse } from '@ringtrain/proto';
import { createLogger, parseRunConfig } from '@ringtrain/protocol';
import { freePort } from '@ringtrain/testing';
import { ringtrainBin, runCli } from '../../run-cli.test-helper.js';

const TOKEN = 'a-worker-test-token-long-enough';

const WITH_SECRET: NodeJS.ProcessEnv = { ...process.env, RINGTRAIN_TOKEN: TOKEN };

/** `ringtrain worker` as worker-0 of the coordinator at `coordinator`, with `flags` and `env`. */
function runWorkerCli(coordinator: string, flags: readonly string[] = [], env: NodeJS.ProcessEnv = WITH_SECRET) {
  return runCli(['worker', '--coordinator', coordinator, '--worker-id', 'worker-0', ...flags], env);
}

/** How `ringtrain worker` exits when its coordinator answers the registration with the run's end, as given. */
async function exitOnceTheRunEnded(
  reason: string,
  outcome: RegisterResponse['runOutcome']
): Promise<{ code: number; stderr: string }> {
  const proto = grpc.loadPackageDefinition(loadProto('coordinator.proto')) as unknown as CoordinatorProto;
  const server = new grpc.Server();
  const answer: RegisterResponse = { runEnded: true, runEndedReason: reason, runOutcome: outcome };
  server.addService(proto.ringtrain.coordinator.v1.Coordinator.service, {
    Register: (_call: unknown, callback: grpc.sendUnaryData<RegisterResponse>) => callback(null, answer)
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound)
    )
  );
  try {
    return await runWorkerCli(`127.0.0.1:${port}`);
  } finally {
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  }
}

describe('ringtrain worker', () => {
  let work = '';
  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-cli-worker-'));
  });
  after(() => rm(work, { recursive: true, force: true }));

  it('registers the address peers reach it by (RINGTRAIN_ADVERTISE_HOST, RINGTRAIN_COLLECTIVE_PORT) and exits 0 when the run ends', async () => {
    const logFile = path.join(work, 'coordinator.log');
    const config = parseRunConfig(
      {
        runId: 'run-worker',
        dataset: path.join(work, 'dataset'),
        out: path.join(work, 'out'),
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
      logger: createLogger({ service: 'coordinator' }, logFile),
      httpPort: null
    });
    try {
      const port = await freePort();
      const child = spawn(
        process.execPath,
        [ringtrainBin, 'worker', '--coordinator', coordinator.address, '--worker-id', 'worker-0'],
        {
          env: {
            ...process.env,
            RINGTRAIN_TOKEN: TOKEN,
            RINGTRAIN_COLLECTIVE_PORT: String(port),
            RINGTRAIN_ADVERTISE_HOST: 'localhost'
          },
          stdio: ['ignore', 'ignore', 'pipe']
        }
      );
      const exit = new Promise<number | null>((resolve) => child.once('exit', resolve));
      let registered: { address: string } | undefined;
      while (registered === undefined) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        const line = (await readFile(logFile, 'utf8')).split('\n').find((each) => each.includes('"worker registered"'));
        if (line !== undefined) registered = JSON.parse(line) as { address: string };
      }
      assert.equal(registered.address, `localhost:${port}`);
      // One of two workers: no generation forms; stopping the run answers its registration with "ended".
      coordinator.requestStop('the test is over');
      assert.equal(await exit, 0);
    } finally {
      await coordinator.close();
    }
  });

  it('waits for an unreachable coordinator up to --reconnect-deadline, logging each retry, then exits 80 (retryable) naming it', async () => {
    const started = Date.now();
    const { code, stderr } = await runWorkerCli('127.0.0.1:1', ['--reconnect-deadline', '2']);
    assert.equal(code, 80, stderr);
    const retries =
      stderr.match(
        /waiting for the coordinator at 127\.0\.0\.1:1: unreachable for [\d.]+ s \(deadline 2\.0 s\), attempt \d+, next in/g
      ) ?? [];
    assert.ok(retries.length >= 2, `one warning per retry, got ${retries.length}:\n${stderr}`);
    assert.match(
      stderr.trim().split('\n').at(-1) ?? '',
      /^ringtrain: the coordinator at 127\.0\.0\.1:1 was unreachable for 2 s, past the reconnect deadline of 2 s/
    );
    assert.ok(Date.now() - started < 30_000, 'the flag shortens the default wait of 300 s');
  });

  it('exits 84 (run failed, permanent) when the coordinator says the run failed, whatever words its reason uses', async () => {
    const { code, stderr } = await exitOnceTheRunEnded(
      'the restart budget of 3 generations is used up; last: rank 1 lost its link',
      'RUN_OUTCOME_FAILED'
    );
    assert.equal(code, EXIT_CODES.runFailed, stderr);
    assert.match(stderr.trim().split('\n').at(-1) ?? '', /^ringtrain: the run failed: the restart budget of 3/);
  });

  it('exits 0 when the run was stopped, even though its reason tells of a failed generation', async () => {
    const { code, stderr } = await exitOnceTheRunEnded(
      'stopped on request (generation 2 ended: rank 1 failed: peer lost); resume with --resume',
      'RUN_OUTCOME_STOPPED'
    );
    assert.equal(code, EXIT_CODES.ok, stderr);
  });

  it('refuses a --reconnect-deadline that is not a whole number of seconds from 1 to 86400', async () => {
    const { code, stderr } = await runWorkerCli('127.0.0.1:1', ['--reconnect-deadline', '0']);
    assert.equal(code, 2, stderr);
    assert.match(stderr, /--reconnect-deadline: /);
  });

  it('exits 69 (permanent) before contacting the coordinator when its pod was given GPUs that TensorFlow does not compute on', async () => {
    // CUDA_VISIBLE_DEVICES=-1 hides any GPU from TensorFlow, so this holds on a GPU machine too.
    const { code, stderr } = await runWorkerCli('127.0.0.1:1', [], {
      ...WITH_SECRET,
      RINGTRAIN_EXPECTED_GPUS: '1',
      RINGTRAIN_GPU_RESOURCE: 'nvidia.com/gpu',
      CUDA_VISIBLE_DEVICES: '-1'
    });
    assert.equal(code, 69, stderr);
    const last = stderr.trim().split('\n').at(-1) ?? '';
    assert.match(last, /^ringtrain: this pod was given 1 GPU \(nvidia\.com\/gpu\) but TensorFlow sees none: /);
    assert.doesNotMatch(stderr, /unreachable/);
  });

  it('names the environment problem when the secret is missing', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, RINGTRAIN_COLLECTIVE_PORT: 'eighty' };
    delete env.RINGTRAIN_TOKEN;
    const { code, stderr } = await runWorkerCli('127.0.0.1:1', [], env);
    assert.equal(code, 2, stderr);
    assert.match(stderr, /RINGTRAIN_TOKEN: .*\n.*RINGTRAIN_COLLECTIVE_PORT: /);
  });
});
