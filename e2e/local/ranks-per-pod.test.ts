import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { GaveUp, eventually } from '@ringtrain/testing';
import { CREDENTIALS_SECRET, DATASET_URI, NAMESPACE, startLocalCluster, type LocalCluster } from './local-cluster.js';

/**
 * Several ranks per worker pod (spec.workers.ranksPerPod, torchrun's --nproc-per-node) on the local control plane:
 * 2 pods × 2 CPU ranks (gpu.count 0: no GPU here), a ring of 4, from `kubectl apply` to Succeeded; then one
 * process of a pod killed, which fails its pod at once and restarts the gang from the checkpoint.
 */

const TRAINING_TIMEOUT_MS = 10 * 60_000;
let cluster: LocalCluster;

function run(name: string, workers: Record<string, unknown>, epochs = 1): Record<string, unknown> {
  return {
    apiVersion: 'ringtrain.dev/v1alpha1',
    kind: 'TrainingRun',
    metadata: { name, namespace: NAMESPACE },
    spec: {
      dataset: { uri: DATASET_URI },
      workers: { replicas: 2, image: 'ringtrain:e2e', ...workers },
      hyperparameters: { epochs, batchSizePerWorker: 8, imageSize: 32, optimizer: 'adam', learningRate: 0.001 },
      checkpoint: { everySteps: 2 },
      output: { uri: `s3://runs/${name}` },
      storage: { endpoint: cluster.minio.config.endpoint, credentialsSecretRef: { name: CREDENTIALS_SECRET } },
      runPolicy: { backoffLimit: 2, activeDeadlineSeconds: 1500 }
    }
  };
}

async function apply(manifest: Record<string, unknown>): Promise<{ code: number | null; stderr: string }> {
  return cluster.kubectl(['apply', '-f', '-'], JSON.stringify(manifest));
}

async function waitForPhase(name: string, phase: string) {
  return eventually(
    `TrainingRun ${name} to reach ${phase}`,
    async () => {
      const found = await cluster.getRun(name);
      if (found?.status?.phase === 'Failed') throw new GaveUp(`${name} Failed: ${JSON.stringify(found.status)}`);
      return found?.status?.phase === phase ? found : undefined;
    },
    { timeoutMs: TRAINING_TIMEOUT_MS, describe: () => cluster.diagnostics(name) }
  );
}

interface Metrics {
  state: string;
  generations: number;
  weightsIdentical: boolean;
  weightsSha256: string[];
  config: { workers: number; partitions: number; ranksPerPod?: number };
}

async function metricsOf(name: string): Promise<Metrics> {
  return JSON.parse((await cluster.outputOf(name).get('metrics.json')).toString('utf8')) as Metrics;
}

/** The pid of the process under `root` (itself or a descendant) whose command line contains `needle`. */
async function descendantWith(root: number, needle: string): Promise<number | undefined> {
  const cmdline = await readFile(`/proc/${root}/cmdline`, 'utf8').catch(() => '');
  if (cmdline.split('\0').join(' ').includes(needle)) return root;
  for (const task of await readdir(`/proc/${root}/task`).catch(() => [])) {
    const children = await readFile(`/proc/${root}/task/${task}/children`, 'utf8').catch(() => '');
    for (const child of children.split(' ').filter(Boolean)) {
      const found = await descendantWith(Number(child), needle);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

describe('worker pods of several ranks on a local control plane', { timeout: 30 * 60_000 }, () => {
  before(async () => {
    cluster = await startLocalCluster();
  });
  after(async () => {
    await cluster?.stop();
  });

  it('the API server refuses ranks per pod that do not match the GPUs one for one, naming the fix', async () => {
    const refused = await apply(run('ranks-mismatch', { gpu: { count: 2 }, ranksPerPod: 1 }));
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /spec\.workers\.ranksPerPod: Invalid value: .*must equal workers\.gpu\.count/);
    const tooMany = await apply(run('ranks-too-many', { replicas: 129, gpu: { count: 0 }, ranksPerPod: 2 }));
    assert.notEqual(tooMany.code, 0);
    assert.match(tooMany.stderr, /spec\.workers\.replicas: .*ring's size and must be at most 256/);
  });

  it('2 pods × 2 CPU ranks train as a ring of 4 to Succeeded, counted as 2 pods and 4 ranks', async () => {
    const applied = await apply(run('ranks', { gpu: { count: 0 }, ranksPerPod: 2 }));
    assert.equal(applied.code, 0, applied.stderr);
    const done = await waitForPhase('ranks', 'Succeeded');
    assert.equal(done.status?.ranks, 4);
    assert.match(done.status?.workers ?? '', /^\d\/2$/);
    const metrics = await metricsOf('ranks');
    assert.equal(metrics.state, 'succeeded');
    assert.equal(metrics.config.workers, 4);
    assert.equal(metrics.config.partitions, 4);
    assert.equal(metrics.config.ranksPerPod, 2);
    assert.equal(metrics.weightsSha256.length, 4, 'four ranks reported their weights');
    assert.equal(metrics.weightsIdentical, true, 'the ring of 4 averaged their gradients');
    // One pod per replica (and the coordinator), each exiting once its ranks are done.
    const exits = await eventually(
      'the three pods of ranks to exit',
      async () => {
        const ended = cluster.agent.exits.filter((exit) => exit.pod.startsWith('ranks-'));
        return ended.length >= 3 ? ended : undefined;
      },
      { timeoutMs: 60_000, describe: () => cluster.diagnostics('ranks') }
    );
    assert.deepEqual(
      exits.map((exit) => exit.pod).sort(),
      ['ranks-coordinator', 'ranks-worker-0', 'ranks-worker-1'],
      'two worker pods'
    );
    // Each pod ran two processes that registered as neighbours on the ring, from their own ports.
    const [log] = await cluster.agent.logsOf('ranks-coordinator');
    const formed = log?.text.split('\n').find((line) => line.includes('"generation formed"')) ?? '';
    assert.match(formed, /"ranks":\["ranks-worker-0-0","ranks-worker-0-1","ranks-worker-1-0","ranks-worker-1-1"\]/);
  });

  it('one process of a pod killed: its pod fails at once with that exit code, and the gang restarts to Succeeded', async () => {
    const applied = await apply(run('ranks-kill', { gpu: { count: 0 }, ranksPerPod: 2 }, 2));
    assert.equal(applied.code, 0, applied.stderr);
    await eventually(
      'a first checkpoint of ranks-kill',
      async () => ((await cluster.getRun('ranks-kill'))?.status?.lastCheckpoint ? true : undefined),
      { timeoutMs: TRAINING_TIMEOUT_MS, describe: () => cluster.diagnostics('ranks-kill') }
    );
    const pod = cluster.agent.processOf('ranks-kill-worker-1');
    assert.ok(pod, 'worker pod 1 runs');
    const victim = await descendantWith(pod.pid, '--worker-id ranks-kill-worker-1-1');
    assert.ok(victim !== undefined, 'local rank 1 of pod 1 is a process of its own');
    process.kill(victim, 'SIGKILL');
    const done = await waitForPhase('ranks-kill', 'Succeeded');
    assert.equal(done.status?.attempt, 2, JSON.stringify(done.status?.lastFailure));
    assert.equal(done.status?.lastFailure?.pod, 'ranks-kill-worker-1');
    assert.equal(done.status?.lastFailure?.exitCode, 137, 'the pod exits as its killed process did');
    const podExit = cluster.agent.exits.find((exit) => exit.pod === 'ranks-kill-worker-1');
    assert.equal(podExit?.exitCode, 137);
    const metrics = await metricsOf('ranks-kill');
    assert.equal(metrics.weightsIdentical, true);
    assert.equal(metrics.weightsSha256.length, 4);
  });
});
