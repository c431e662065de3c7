import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Coordinator } from '@ringtrain/coordinator';
import { EXIT_CODES } from '@ringtrain/proto';
import { createLogger, parseRunConfig } from '@ringtrain/protocol';
import { freePort } from '@ringtrain/testing';
import { ExitError } from '../../errors.js';
import { ringtrainBin, runCli } from '../../run-cli.test-helper.js';
import { launchFailure, launchLocalRanks, planLocalRanks, type LocalRank } from './launcher.js';

const TOKEN = 'a-launcher-test-token-long-enough';

/** A pod of 2 ranks with 2 GPUs, as the operator starts it: the device plugin's (here made up) device list. */
const GPU_POD: NodeJS.ProcessEnv = {
  PATH: '/usr/bin',
  RINGTRAIN_RANKS_PER_POD: '2',
  RINGTRAIN_RANK: '4',
  RINGTRAIN_WORLD_SIZE: '8',
  RINGTRAIN_COLLECTIVE_PORT: '50052',
  RINGTRAIN_EXPECTED_GPUS: '2',
  RINGTRAIN_GPU_RESOURCE: 'nvidia.com/gpu',
  CUDA_VISIBLE_DEVICES: '3,5'
};

/**
 * A stand-in for `ringtrain worker`: writes the environment it got to env-<local>.json, then does what
 * BEHAVIOUR_<local> says: `exit:<code>` (after a last line on stderr, as the CLI writes one) or `wait` (until
 * SIGTERM, which it records in sigterm-<local> before exiting 0).
 */
const CHILD = `
import { writeFileSync } from 'node:fs';
import path from 'node:path';
const local = process.env.RINGTRAIN_LOCAL_RANK;
const keys = ['RINGTRAIN_RANK', 'RINGTRAIN_LOCAL_RANK', 'RINGTRAIN_LOCAL_WORLD_SIZE', 'RINGTRAIN_COLLECTIVE_PORT',
  'CUDA_VISIBLE_DEVICES', 'RINGTRAIN_EXPECTED_GPUS', 'RINGTRAIN_LOCAL_WORKERS', 'RINGTRAIN_RANKS_PER_POD'];
writeFileSync(path.join(process.env.OUT, 'env-' + local + '.json'), JSON.stringify(Object.fromEntries(keys.map((k) => [k, process.env[k] ?? null]))));
const [what, code] = (process.env['BEHAVIOUR_' + local] ?? 'exit:0').split(':');
if (what === 'exit') {
  process.stderr.write('some progress\\nringtrain: local ' + local + ' gives up\\n');
  setTimeout(() => process.exit(Number(code)), 150);
} else {
  process.on('SIGTERM', () => { writeFileSync(path.join(process.env.OUT, 'sigterm-' + local), ''); process.exit(0); });
  setInterval(() => {}, 1000);
}
`;

describe('ringtrain worker as a launcher of several ranks per pod', () => {
  let work = '';
  let child = '';
  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-launcher-'));
    child = path.join(work, 'child.mjs');
    await writeFile(child, CHILD);
  });
  after(() => rm(work, { recursive: true, force: true }));

  /** Runs the launcher over stand-in children in `out`, each local rank behaving as `behaviours` says. */
  async function launch(out: string, behaviours: readonly string[], signals = new EventEmitter()) {
    const ranks = planLocalRanks(
      {
        ...GPU_POD,
        OUT: out,
        ...Object.fromEntries(behaviours.map((behaviour, local) => [`BEHAVIOUR_${local}`, behaviour]))
      },
      'flowers-worker-2'
    );
    const stderr = new PassThrough();
    const started = Date.now();
    const outcome = await launchLocalRanks({
      ranks,
      start: (rank: LocalRank) =>
        spawn(process.execPath, [child], { env: rank.env, stdio: ['ignore', 'ignore', 'pipe'] }),
      signals,
      stderr
    });
    stderr.end();
    return { outcome, ranks, seconds: (Date.now() - started) / 1000, stderr: stderr.read()?.toString() ?? '' };
  }

  const envOf = async (out: string, local: number) =>
    JSON.parse(await readFile(path.join(out, `env-${local}.json`), 'utf8')) as Record<string, string | null>;

  it('gives each process its rank, local rank, port and one GPU of the pod’s device list, and no launcher of its own', async () => {
    const out = await mkdtemp(path.join(work, 'env-'));
    const { outcome } = await launch(out, ['exit:0', 'exit:0']);
    assert.deepEqual(outcome, { exitCode: 0 });
    assert.deepEqual(await envOf(out, 0), {
      RINGTRAIN_RANK: '4',
      RINGTRAIN_LOCAL_RANK: '0',
      RINGTRAIN_LOCAL_WORLD_SIZE: '2',
      RINGTRAIN_COLLECTIVE_PORT: '50052',
      CUDA_VISIBLE_DEVICES: '3',
      RINGTRAIN_EXPECTED_GPUS: '1',
      RINGTRAIN_LOCAL_WORKERS: '2',
      RINGTRAIN_RANKS_PER_POD: null
    });
    assert.deepEqual(await envOf(out, 1), {
      RINGTRAIN_RANK: '5',
      RINGTRAIN_LOCAL_RANK: '1',
      RINGTRAIN_LOCAL_WORLD_SIZE: '2',
      RINGTRAIN_COLLECTIVE_PORT: '50053',
      CUDA_VISIBLE_DEVICES: '5',
      RINGTRAIN_EXPECTED_GPUS: '1',
      RINGTRAIN_LOCAL_WORKERS: '2',
      RINGTRAIN_RANKS_PER_POD: null
    });
  });

  it('numbers the GPUs 0 … n−1 when the pod lists none, and leaves CPU ranks without CUDA_VISIBLE_DEVICES', () => {
    const gpus = planLocalRanks({ ...GPU_POD, CUDA_VISIBLE_DEVICES: undefined }, 'w');
    assert.deepEqual(
      gpus.map((rank) => rank.env.CUDA_VISIBLE_DEVICES),
      ['0', '1']
    );
    const cpu = planLocalRanks(
      { RINGTRAIN_RANKS_PER_POD: '3', RINGTRAIN_RANK: '3', RINGTRAIN_COLLECTIVE_PORT: '50052' },
      'w'
    );
    assert.deepEqual(
      cpu.map((rank) => [rank.workerId, rank.rank, rank.env.RINGTRAIN_COLLECTIVE_PORT, rank.env.CUDA_VISIBLE_DEVICES]),
      [
        ['w-0', 3, '50052', undefined],
        ['w-1', 4, '50053', undefined],
        ['w-2', 5, '50054', undefined]
      ]
    );
  });

  it('refuses ranks that do not match the GPUs one for one, naming the fix', () => {
    assert.throws(
      () => planLocalRanks({ ...GPU_POD, RINGTRAIN_EXPECTED_GPUS: '4' }, 'w'),
      (error: unknown) =>
        error instanceof ExitError &&
        error.exitCode === EXIT_CODES.badConfig &&
        /RINGTRAIN_RANKS_PER_POD is 2 but the pod was given 4 GPUs: one rank per GPU/.test(error.message)
    );
    assert.throws(
      () => planLocalRanks({ ...GPU_POD, CUDA_VISIBLE_DEVICES: '7' }, 'w'),
      /CUDA_VISIBLE_DEVICES lists 1 devices \(7\) for 2 ranks/
    );
  });

  it(
    'fails fast: the first rank to fail ends the others and gives the pod its exit code and last line',
    { timeout: 180_000 },
    async () => {
      const out = await mkdtemp(path.join(work, 'fail-'));
      const { outcome, seconds, stderr } = await launch(out, ['wait', 'exit:69']);
      assert.equal(outcome.exitCode, 69);
      assert.equal(outcome.failed?.rank.local, 1);
      assert.equal(outcome.failed?.lastLine, 'ringtrain: local 1 gives up');
      // The waiting rank was killed, not asked: it recorded no SIGTERM.
      assert.deepEqual((await readdir(out)).sort(), ['env-0.json', 'env-1.json']);
      assert.ok(seconds < 10, `ended in ${seconds} s`);
      assert.match(stderr, /some progress\nringtrain: local 1 gives up\n/);
      const error = launchFailure(outcome, 2);
      assert.equal(error?.exitCode, 69);
      assert.equal(
        error?.message,
        "local 1 gives up (local rank 1 of 2, rank 5, worker flowers-worker-2-1, exited with code 69; the pod's other ranks were stopped)"
      );
    }
  );

  it('passes SIGTERM on to every rank and exits 0 when they all stop cleanly', { timeout: 180_000 }, async () => {
    const out = await mkdtemp(path.join(work, 'term-'));
    const signals = new EventEmitter();
    const running = launch(out, ['wait', 'wait'], signals);
    // Once both have started (each wrote its environment), the pod is told to stop.
    while ((await readdir(out)).filter((name) => name.startsWith('env-')).length < 2)
      await new Promise((resolve) => setTimeout(resolve, 50));
    signals.emit('SIGTERM', 'SIGTERM');
    const { outcome } = await running;
    assert.deepEqual(outcome, { exitCode: 0 });
    assert.deepEqual((await readdir(out)).filter((name) => name.startsWith('sigterm-')).sort(), [
      'sigterm-0',
      'sigterm-1'
    ]);
  });

  it(
    'runs real `ringtrain worker` ranks that register as neighbours, each at its own port, and exit 0 when the run ends',
    { timeout: 180_000 },
    async () => {
      const logFile = path.join(work, 'coordinator.log');
      const config = parseRunConfig(
        {
          runId: 'run-launcher',
          dataset: path.join(work, 'dataset'),
          out: path.join(work, 'out'),
          // Three ranks: the pod's two register and wait, no generation forms, and stopping the run ends them.
          workers: 3,
          epochs: 1,
          batchSize: 4,
          partitions: 3,
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
        const pod = spawn(
          process.execPath,
          [ringtrainBin, 'worker', '--coordinator', coordinator.address, '--worker-id', 'pod-0'],
          {
            env: {
              ...process.env,
              RINGTRAIN_TOKEN: TOKEN,
              RINGTRAIN_RANKS_PER_POD: '2',
              RINGTRAIN_RANK: '0',
              RINGTRAIN_COLLECTIVE_PORT: String(port),
              RINGTRAIN_ADVERTISE_HOST: 'localhost'
            },
            stdio: ['ignore', 'ignore', 'pipe']
          }
        );
        let stderr = '';
        pod.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        const exit = new Promise<number | null>((resolve) => pod.once('exit', resolve));
        let registered: { workerId: string; address: string }[] = [];
        const deadline = Date.now() + 120_000;
        while (registered.length < 2 && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 200));
          registered = (await readFile(logFile, 'utf8').catch(() => ''))
            .split('\n')
            .filter((line) => line.includes('"worker registered"'))
            .map((line) => JSON.parse(line) as { workerId: string; address: string });
        }
        assert.deepEqual(
          registered.map(({ workerId, address }) => `${workerId}@${address}`).sort(),
          [`pod-0-0@localhost:${port}`, `pod-0-1@localhost:${port + 1}`],
          stderr
        );
        coordinator.requestStop('the test is over');
        assert.equal(await exit, 0, stderr);
      } finally {
        await coordinator.close();
      }
    }
  );

  it(
    'exits as the failing rank does, in its words: 69 when the GPU a rank was given is not one TensorFlow computes on',
    { timeout: 180_000 },
    async () => {
      // CUDA_VISIBLE_DEVICES=-1 hides any GPU from TensorFlow, so this holds on a GPU machine too.
      const { code, stderr } = await runCli(['worker', '--coordinator', '127.0.0.1:1', '--worker-id', 'pod-1'], {
        ...process.env,
        RINGTRAIN_TOKEN: TOKEN,
        RINGTRAIN_RANKS_PER_POD: '2',
        RINGTRAIN_RANK: '2',
        RINGTRAIN_EXPECTED_GPUS: '2',
        RINGTRAIN_GPU_RESOURCE: 'nvidia.com/gpu',
        CUDA_VISIBLE_DEVICES: '-1,-1'
      });
      assert.equal(code, 69, stderr);
      assert.match(
        stderr.trim().split('\n').at(-1) ?? '',
        /^ringtrain: this pod was given 1 GPU \(nvidia\.com\/gpu\) but TensorFlow sees none: .*\(local rank [01] of 2, rank [23], worker pod-1-[01], exited with code 69; the pod's other ranks were stopped\)$/
      );
    }
  );
});
