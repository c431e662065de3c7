import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  epochOrder,
  epochWindows,
  isNotFound,
  loadManifest,
  openStore,
  readObject,
  shardSampleCounts,
  type ObjectStore
} from '@ringtrain/dataset';
import { GaveUp, eventually } from '@ringtrain/testing';
import {
  CREDENTIALS_SECRET,
  DATASET_URI,
  NAMESPACE,
  RAW_IMAGES_URI,
  startLocalCluster,
  type LocalCluster,
  type RawRun
} from './local-cluster.js';

/**
 * One TrainingRun's life on a local control plane, end to end: kubectl → API server (CRD schema and CEL) →
 * operator → pods run by the node agent → coordinator and workers training ResNet18 over the ring
 * all-reduce on digits in MinIO → model, labels and metrics.json in MinIO → status. Runs are kept small
 * (32 px, 180 training images, batch 16 per worker) so the suite takes minutes on 2 cores.
 */

const TRAINING_TIMEOUT_MS = 8 * 60_000;
const STARTUP_TIMEOUT_MS = 3 * 60_000;
const BATCH_SIZE_PER_WORKER = 16;

let cluster: LocalCluster;
const suiteStarted = Date.now();

function trainingRun(
  name: string,
  spec: { epochs?: number; dataset?: Record<string, unknown>; runPolicy?: Record<string, unknown> } = {}
): Record<string, unknown> {
  return {
    apiVersion: 'ringtrain.dev/v1alpha1',
    kind: 'TrainingRun',
    metadata: { name, namespace: NAMESPACE },
    spec: {
      dataset: spec.dataset ?? { uri: DATASET_URI },
      workers: { replicas: 2, image: 'ringtrain:e2e', gpu: { count: 0 } },
      hyperparameters: {
        epochs: spec.epochs ?? 2,
        batchSizePerWorker: BATCH_SIZE_PER_WORKER,
        imageSize: 32,
        optimizer: 'adam',
        learningRate: 0.001,
        schedule: 'constant'
      },
      // Often enough that a killed or suspended gang has a checkpoint to resume from.
      checkpoint: { everySteps: 2 },
      output: { uri: `s3://runs/${name}` },
      storage: { endpoint: cluster.minio.config.endpoint, credentialsSecretRef: { name: CREDENTIALS_SECRET } },
      runPolicy: { backoffLimit: 2, activeDeadlineSeconds: 1200, ...spec.runPolicy }
    }
  };
}

async function apply(manifest: Record<string, unknown>): Promise<void> {
  const result = await cluster.kubectl(['apply', '-f', '-'], JSON.stringify(manifest));
  assert.equal(result.code, 0, `kubectl apply failed: ${result.stderr}`);
}

/** `kubectl patch` of the run's spec.runPolicy.suspend, as a user suspends or resumes a run. */
async function setSuspended(name: string, suspend: boolean): Promise<void> {
  const patch = JSON.stringify({ spec: { runPolicy: { suspend } } });
  const patched = await cluster.kubectl(['patch', 'trainingrun', name, '--type', 'merge', '-p', patch]);
  assert.equal(patched.code, 0, patched.stderr);
}

/** The phases a watch saw, once it has seen `last`: a watch may deliver a change a moment after a GET shows it. */
function phasesUpTo(name: string, last: string): Promise<string[]> {
  return eventually(
    `the watch to see ${name} reach ${last}`,
    async () => {
      const seen = cluster.phaseHistory.get(name) ?? [];
      return seen.at(-1) === last ? [...seen] : undefined;
    },
    { timeoutMs: 30_000 }
  );
}

async function waitForPhase(name: string, phase: string, timeoutMs: number): Promise<RawRun> {
  return eventually(
    `TrainingRun ${name} to reach ${phase}`,
    async () => {
      const run = await cluster.getRun(name);
      if (run?.status?.phase === 'Failed' && phase !== 'Failed')
        throw new GaveUp(`${name} Failed: ${JSON.stringify(run.status)}`);
      return run?.status?.phase === phase ? run : undefined;
    },
    { timeoutMs: timeoutMs, describe: () => cluster.diagnostics(name) }
  );
}

/** Every Pod, Service, Secret and ConfigMap labelled with the run or owned by it, with its controller references. */
async function objectsOf(
  run: string,
  uid: string
): Promise<Array<{ name: string; controllers: Array<Record<string, unknown>> }>> {
  const lists = await Promise.all([
    cluster.core
      .listNamespacedPod({ namespace: NAMESPACE })
      .then((list) => list.items.map((item) => ['Pod', item] as const)),
    cluster.core
      .listNamespacedService({ namespace: NAMESPACE })
      .then((list) => list.items.map((item) => ['Service', item] as const)),
    cluster.core
      .listNamespacedSecret({ namespace: NAMESPACE })
      .then((list) => list.items.map((item) => ['Secret', item] as const)),
    cluster.core
      .listNamespacedConfigMap({ namespace: NAMESPACE })
      .then((list) => list.items.map((item) => ['ConfigMap', item] as const))
  ]);
  return lists
    .flat()
    .filter(
      ([, item]) =>
        item.metadata?.labels?.['ringtrain.dev/run'] === run ||
        item.metadata?.ownerReferences?.some((owner) => owner.uid === uid)
    )
    .map(([kind, item]) => ({
      name: `${kind}/${item.metadata?.name}`,
      controllers: (item.metadata?.ownerReferences ?? [])
        .filter((owner) => owner.controller)
        .map((owner) => ({
          kind: owner.kind,
          name: owner.name,
          uid: owner.uid,
          blockOwnerDeletion: owner.blockOwnerDeletion
        }))
    }));
}

/** Until rank 0 has committed a checkpoint to MinIO: training is under way and a restart has somewhere to resume from. */
async function waitForCheckpoint(name: string): Promise<void> {
  await eventually(
    `a first checkpoint of ${name}`,
    async () => {
      if ((await cluster.getRun(name))?.status?.phase === 'Failed') throw new GaveUp(`${name} Failed`);
      return (await hasObject(cluster.outputOf(name), 'checkpoints/latest.json')) ? true : undefined;
    },
    { timeoutMs: TRAINING_TIMEOUT_MS, describe: () => cluster.diagnostics(name) }
  );
}

async function livePodsOf(run: string): Promise<string[]> {
  const pods = await cluster.core.listNamespacedPod({
    namespace: NAMESPACE,
    labelSelector: `ringtrain.dev/run=${run}`
  });
  return pods.items.map((pod) => pod.metadata?.name ?? '').sort();
}

async function objectJson(store: ObjectStore, key: string): Promise<unknown> {
  return JSON.parse((await store.get(key)).toString('utf8')) as unknown;
}

async function hasObject(store: ObjectStore, key: string): Promise<boolean> {
  try {
    await store.get(key);
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

/** Optimizer steps of a whole run: the last batch of an epoch may be short, none is dropped or padded. */
async function expectedSteps(epochs: number): Promise<number> {
  const manifest = (await objectJson(openStore(DATASET_URI, { s3: cluster.minio.config }), 'manifest.json')) as {
    splits: { train: { count: number } };
  };
  // As the epoch planner cuts an epoch: a last batch under half the global batch (the default) is dropped.
  const windows = epochWindows({
    samples: manifest.splits.train.count,
    worldSize: 2,
    batchSize: BATCH_SIZE_PER_WORKER,
    samplesConsumed: 0,
    remainder: 'drop',
    dropLastBatchBelow: 0.5
  });
  return (windows.fullWindows + (windows.tailLength > 0 ? 1 : 0)) * epochs;
}

/** Whether rank 0 of the gang's second attempt loaded the checkpoint (the worker logs it), rather than starting over. */
async function resumedFromCheckpoint(run: string): Promise<boolean> {
  for (const pod of [`${run}-worker-0`, `${run}-worker-1`]) {
    const [, second] = await cluster.agent.logsOf(pod);
    if (second?.text.includes('"msg":"resuming from checkpoint"')) return true;
  }
  return false;
}

interface MetricsFile {
  state: string;
  generations: number;
  weightsIdentical: boolean;
  weightsSha256: string[];
  epochs: Array<{
    epoch: number;
    trainLoss: number;
    valAccuracy: number;
    samplesTrained: number;
    samplesDropped: number;
    sampleChecksum: string;
  }>;
  final: { valAccuracy: number | null; globalStep: number };
  config: { workers: number; epochs: number; runId: string; seed: number; partitions: number };
  plan: { backend: { perRank: string[] } };
}

/** The trained model, its labels and metrics.json, as a user would check them in MinIO. */
async function assertTrainedModel(name: string, epochs: number): Promise<MetricsFile> {
  const output = cluster.outputOf(name);
  const weights = await output.get('model/model.safetensors');
  // safetensors: an 8-byte little-endian header length, then a JSON header naming every tensor.
  const header = JSON.parse(weights.subarray(8, 8 + Number(weights.readBigUInt64LE(0))).toString('utf8')) as Record<
    string,
    { shape?: number[] }
  >;
  assert.deepEqual(header['fc.weight']?.shape, [10, 512], 'a torchvision ResNet18 with a 10-class head');
  assert.ok(weights.length > 40e6, `ResNet18's ~11.2M float32 weights, got ${weights.length} bytes`);
  assert.deepEqual(await objectJson(output, 'model/labels.json'), ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  const metrics = (await objectJson(output, 'metrics.json')) as MetricsFile;
  assert.equal(metrics.state, 'succeeded');
  assert.equal(metrics.config.workers, 2);
  assert.equal(metrics.config.runId, `${NAMESPACE}/${name}`);
  assert.equal(metrics.weightsSha256.length, 2);
  assert.equal(metrics.weightsIdentical, true, 'both ranks end with the same weights: the all-reduce averaged them');
  // The pods train on the native backend wherever npm ci built it, as CI requires it to.
  console.log(`# ${name}: compute backend per rank: ${metrics.plan.backend.perRank.join(', ')}`);
  if (process.env.CI === 'true') assert.deepEqual(metrics.plan.backend.perRank, ['tensorflow', 'tensorflow']);
  const last = metrics.epochs.at(-1);
  assert.equal(last?.epoch, epochs - 1);
  // Cross-entropy of a uniform guess over 10 classes is ln 10: below it, the model learned from the data.
  assert.ok(
    (last?.trainLoss ?? Infinity) < Math.log(10),
    `last epoch's training loss ${last?.trainLoss} is below ln 10`
  );
  return metrics;
}

/**
 * Every training sample of `dataset` accounted for exactly once per epoch: each epoch reported once, its trained
 * and dropped samples adding up to the split, and Σ index, Σ index² of the trained ones those of the epoch's
 * planned order (what the ranks report, counted across a resume from the checkpoint's cursor).
 */
async function assertEverySampleOnce(metrics: MetricsFile, dataset: string, epochs: number): Promise<void> {
  const { manifest } = await loadManifest(dataset, { s3: cluster.minio.config });
  assert.deepEqual(
    metrics.epochs.map((epoch) => epoch.epoch),
    Array.from({ length: epochs }, (_, epoch) => epoch),
    'each epoch reported once'
  );
  for (const epoch of metrics.epochs) {
    assert.equal(
      epoch.samplesTrained + epoch.samplesDropped,
      manifest.splits.train.count,
      `epoch ${epoch.epoch}: every sample trained once or dropped`
    );
    const { order } = epochOrder(
      shardSampleCounts(manifest.splits.train),
      metrics.config.seed,
      epoch.epoch,
      metrics.config.partitions
    );
    let sum = 0n;
    let squares = 0n;
    for (const sample of order.subarray(0, order.length - epoch.samplesDropped)) {
      sum += BigInt(sample);
      squares += BigInt(sample) * BigInt(sample);
    }
    assert.equal(epoch.sampleChecksum, `${sum}:${squares}`, `epoch ${epoch.epoch}: exactly the planned samples`);
  }
}

/** MinIO down (killed, its data kept) for `ms`, then up again on the same address: an object store restarting. */
async function storageOutage(ms: number): Promise<void> {
  await cluster.minio.kill();
  try {
    await sleep(ms);
  } finally {
    await cluster.minio.restart();
  }
}

/** Per pod of the run, how many times it logged waiting for object storage ("waiting for object storage at …: unreachable for …"). */
async function storageRetries(run: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const pod of [`${run}-coordinator`, `${run}-worker-0`, `${run}-worker-1`]) {
    counts[pod] = 0;
    for (const log of await cluster.agent.logsOf(pod))
      counts[pod] += log.text
        .split('\n')
        .filter((line) => /waiting for object storage .*unreachable for/.test(line)).length;
  }
  return counts;
}

describe(
  'a TrainingRun on a local control plane (kube-apiserver, etcd, operator, node agent, MinIO)',
  { timeout: 30 * 60_000 },
  () => {
    before(async () => {
      cluster = await startLocalCluster();
    });

    after(async () => {
      const problems = cluster ? [...cluster.agent.problems] : [];
      await cluster?.stop();
      console.log(`# e2e/local suite: ${((Date.now() - suiteStarted) / 1000).toFixed(1)} s`);
      assert.deepEqual(problems, [], 'the node agent itself met no problem');
    });

    it('kubectl apply of an invalid TrainingRun is refused, naming the field', async () => {
      const invalid = trainingRun('invalid-classes');
      (invalid.spec as Record<string, unknown>).model = { numClasses: 1 };
      const result = await cluster.kubectl(['apply', '-f', '-'], JSON.stringify(invalid));
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /spec\.model\.numClasses: Invalid value: 1/);
      const crossField = trainingRun('invalid-warmup');
      (crossField.spec as { hyperparameters: Record<string, unknown> }).hyperparameters.warmupEpochs = 2;
      const refused = await cluster.kubectl(['apply', '-f', '-'], JSON.stringify(crossField));
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /spec\.hyperparameters\.warmupEpochs/);
      assert.equal(await cluster.getRun('invalid-classes'), undefined);
      assert.equal(await cluster.getRun('invalid-warmup'), undefined);
    });

    it('kubectl apply of a 2-worker run ends Succeeded with the model, labels and metrics.json in MinIO', async () => {
      await apply(trainingRun('digits'));
      const done = await waitForPhase('digits', 'Succeeded', TRAINING_TIMEOUT_MS);
      assert.equal(done.status?.modelUri, 's3://runs/digits/model');
      assert.equal(done.status?.attempt, 1);
      assert.ok(done.status?.completionTime);
      // status.lastCheckpoint.uri opens the checkpoint it names: rank 0's weights and optimizer state.
      const checkpoint = done.status?.lastCheckpoint?.uri ?? '';
      assert.match(checkpoint, /^s3:\/\/runs\/digits\/checkpoints\/slot-\d+\.ckpt$/);
      assert.ok(
        (await readObject(checkpoint, { s3: cluster.minio.config })).length > 40e6,
        `${checkpoint} holds a checkpoint`
      );
      assert.deepEqual(
        (await phasesUpTo('digits', 'Succeeded')).filter((p) => p !== 'Pending'),
        ['Running', 'Succeeded']
      );
      const metrics = await assertTrainedModel('digits', 2);
      assert.equal(metrics.generations, 1, 'no restart was needed');
      assert.equal(metrics.final.globalStep, await expectedSteps(2), 'every training sample once per epoch');
      // The coordinator exits 0 (that is what Succeeded means), and so does a worker, also when cleanPodPolicy All
      // deletes its pod (SIGTERM) while it closes down after its last report: it keeps its handler to the end. Only
      // a SIGTERM that lands in Node's own teardown, after JavaScript has stopped running, still takes the default
      // action (143); the operator ignores the exit of a pod it is deleting.
      const exits = await eventually(
        'the three processes of digits to exit',
        async () => {
          const ended = cluster.agent.exits.filter((exit) => exit.pod.startsWith('digits-'));
          return ended.length >= 3 ? ended : undefined;
        },
        { timeoutMs: 60_000, describe: () => cluster.diagnostics('digits') }
      );
      assert.deepEqual(
        exits.map((exit) => exit.pod).sort(),
        ['digits-coordinator', 'digits-worker-0', 'digits-worker-1'],
        'one incarnation each'
      );
      for (const exit of exits)
        assert.ok(
          exit.pod === 'digits-coordinator' ? exit.exitCode === 0 : [0, 143].includes(exit.exitCode),
          `${exit.pod} exited with ${exit.exitCode}`
        );
      await eventually(
        'the pods removed (cleanPodPolicy All)',
        async () => ((await livePodsOf('digits')).length === 0 ? true : undefined),
        { timeoutMs: 60_000 }
      );
    });

    it('a run with spec.dataset.ingest ingests the raw images in MinIO first, then trains to Succeeded', async () => {
      await apply(
        trainingRun('digits-ingest', {
          dataset: { ingest: { source: RAW_IMAGES_URI, into: 's3://datasets/digits-ingest', valFraction: 0.1 } }
        })
      );
      const done = await waitForPhase('digits-ingest', 'Succeeded', TRAINING_TIMEOUT_MS);
      assert.equal(done.status?.modelUri, 's3://runs/digits-ingest/model');
      const manifest = (await objectJson(
        openStore('s3://datasets/digits-ingest', { s3: cluster.minio.config }),
        'manifest.json'
      )) as { classes: string[]; splits: { train: { count: number }; val: { count: number } } };
      assert.equal(manifest.classes.length, 10);
      assert.equal(manifest.splits.train.count + manifest.splits.val.count, 200, 'every raw image ingested');
      const metrics = await assertTrainedModel('digits-ingest', 2);
      assert.equal(metrics.final.globalStep, Math.ceil(manifest.splits.train.count / (2 * BATCH_SIZE_PER_WORKER)) * 2);
    });

    it('a worker process killed with SIGKILL: Restarting, then Succeeded from the last checkpoint', async () => {
      await apply(trainingRun('digits-kill'));
      await waitForCheckpoint('digits-kill');
      const victim = cluster.agent.processOf('digits-kill-worker-1');
      assert.ok(victim, 'worker 1 runs');
      process.kill(victim.pid, 'SIGKILL');

      const done = await waitForPhase('digits-kill', 'Succeeded', TRAINING_TIMEOUT_MS);
      const phases = await phasesUpTo('digits-kill', 'Succeeded');
      // A second restart overwrites lastFailure: the message names what caused it.
      assert.deepEqual(
        phases.slice(phases.indexOf('Running')),
        ['Running', 'Restarting', 'Running', 'Succeeded'],
        `last failure: ${JSON.stringify(done.status?.lastFailure)}`
      );
      assert.equal(done.status?.attempt, 2);
      assert.equal(done.status?.restarts, 1);
      assert.equal(done.status?.lastFailure?.pod, 'digits-kill-worker-1');
      assert.equal(done.status?.lastFailure?.exitCode, 137);
      assert.equal(done.status?.lastFailure?.reason, 'Signal');
      const killed = cluster.agent.exits.find((exit) => exit.pod === 'digits-kill-worker-1');
      assert.equal(killed?.exitCode, 137);
      const metrics = await assertTrainedModel('digits-kill', 2);
      assert.equal(metrics.final.globalStep, await expectedSteps(2));
      assert.ok(await resumedFromCheckpoint('digits-kill'), 'attempt 2 resumed from the checkpoint');
    });

    it('a worker frozen with SIGSTOP (its pod stays Running): declared hung, replaced and the gang restarted within 2x the heartbeat timeout, then Succeeded', async () => {
      const heartbeatTimeoutSeconds = 10;
      await apply(trainingRun('digits-frozen', { runPolicy: { heartbeatTimeoutSeconds } }));
      await waitForCheckpoint('digits-frozen');
      const victim = cluster.agent.processOf('digits-frozen-worker-1');
      assert.ok(victim, 'worker 1 runs');
      process.kill(victim.pid, 'SIGSTOP');
      const frozenAt = Date.now();
      try {
        const restarting = await eventually(
          'the gang restart after the hang',
          async () => {
            const run = await cluster.getRun('digits-frozen');
            return (run?.status?.attempt ?? 1) >= 2 ? run : undefined;
          },
          { timeoutMs: 4 * heartbeatTimeoutSeconds * 1000, describe: () => cluster.diagnostics('digits-frozen') }
        );
        const took = Date.now() - frozenAt;
        assert.ok(
          took <= 2 * heartbeatTimeoutSeconds * 1000,
          `restarted ${(took / 1000).toFixed(1)} s after SIGSTOP, heartbeat timeout ${heartbeatTimeoutSeconds} s`
        );
        assert.equal(restarting.status?.lastFailure?.pod, 'digits-frozen-worker-1');
        assert.equal(restarting.status?.lastFailure?.reason, 'Hung');
      } finally {
        // The pod was force-deleted and its process killed; should it still be there, let it go.
        try {
          process.kill(victim.pid, 'SIGCONT');
        } catch {
          // gone
        }
      }
      const done = await waitForPhase('digits-frozen', 'Succeeded', TRAINING_TIMEOUT_MS);
      assert.equal(done.status?.attempt, 2);
      assert.equal(done.status?.restarts, 1);
      assert.equal(done.status?.lastFailure?.reason, 'Hung');
      const metrics = await assertTrainedModel('digits-frozen', 2);
      assert.equal(metrics.final.globalStep, await expectedSteps(2));
      assert.ok(await resumedFromCheckpoint('digits-frozen'), 'attempt 2 resumed from the checkpoint');
    });

    it('MinIO stopped for 30 s while the workers load the dataset and again for 30 s mid-epoch: the pods wait for it, and the run Succeeds with every sample once', async () => {
      await apply(trainingRun('digits-minio'));
      // Start-up: the workers have registered and load their compute backend; next they read the checkpoint
      // pointer, the manifest and their shards.
      await eventually(
        'the workers of digits-minio to have registered',
        async () => {
          const logs = [
            ...(await cluster.agent.logsOf('digits-minio-worker-0')),
            ...(await cluster.agent.logsOf('digits-minio-worker-1'))
          ];
          return logs.some((log) => log.text.includes('compute backend')) ? true : undefined;
        },
        { timeoutMs: STARTUP_TIMEOUT_MS, intervalMs: 50, describe: () => cluster.diagnostics('digits-minio') }
      );
      const startup = Date.now();
      await storageOutage(30_000);
      const atStartup = await storageRetries('digits-minio');
      assert.ok(
        atStartup['digits-minio-worker-0']! + atStartup['digits-minio-worker-1']! > 0,
        `a worker met the outage while loading and waited for MinIO: ${JSON.stringify(atStartup)}`
      );
      await waitForCheckpoint('digits-minio');
      console.log(
        `# digits-minio: first checkpoint ${((Date.now() - startup) / 1000).toFixed(1)} s after MinIO went down at start-up; storage retries ${JSON.stringify(atStartup)}`
      );
      // Mid-epoch: rank 0 writes its next checkpoint (every 2 steps) while MinIO is down.
      const midEpoch = Date.now();
      await storageOutage(30_000);
      const done = await waitForPhase('digits-minio', 'Succeeded', TRAINING_TIMEOUT_MS);
      const total = await storageRetries('digits-minio');
      console.log(
        `# digits-minio: Succeeded ${((Date.now() - midEpoch) / 1000).toFixed(1)} s after MinIO went down mid-epoch; attempt ${done.status?.attempt}, restarts ${done.status?.restarts ?? 0}, storage retries in all ${JSON.stringify(total)}`
      );
      assert.ok(
        Object.values(total).reduce((a, b) => a + b) > Object.values(atStartup).reduce((a, b) => a + b),
        'a pod met the mid-epoch outage and waited for MinIO'
      );
      // Both outages are shorter than reconnectDeadlineSeconds (300 s): waited out, no pod failed.
      assert.equal(done.status?.attempt, 1, `last failure: ${JSON.stringify(done.status?.lastFailure)}`);
      assert.equal(done.status?.restarts ?? 0, 0);
      const metrics = await assertTrainedModel('digits-minio', 2);
      assert.equal(metrics.generations, 1, 'the generation outlived both outages');
      assert.equal(metrics.final.globalStep, await expectedSteps(2));
      await assertEverySampleOnce(metrics, DATASET_URI, 2);
    });

    it("the coordinator killed with SIGKILL mid-epoch: the operator restarts the gang, which Succeeds from the last checkpoint with the first epoch's record kept and every sample once", async () => {
      await apply(trainingRun('digits-coordinator'));
      // Mid-epoch 1: epoch 0's record is in the coordinator's books only, which the new coordinator must carry on.
      await eventually(
        'a checkpoint of digits-coordinator inside epoch 1',
        async () => {
          const output = cluster.outputOf('digits-coordinator');
          if (!(await hasObject(output, 'checkpoints/latest.json'))) return undefined;
          const { cursor } = (await objectJson(output, 'checkpoints/latest.json')) as {
            cursor: { epoch: number; samplesConsumed: number };
          };
          return cursor.epoch === 1 && cursor.samplesConsumed > 0 ? true : undefined;
        },
        { timeoutMs: TRAINING_TIMEOUT_MS, describe: () => cluster.diagnostics('digits-coordinator') }
      );
      const victim = cluster.agent.processOf('digits-coordinator-coordinator');
      assert.ok(victim, 'the coordinator runs');
      process.kill(victim.pid, 'SIGKILL');
      const killedAt = Date.now();
      const restarted = await eventually(
        'the gang restart after the coordinator died',
        async () => {
          const run = await cluster.getRun('digits-coordinator');
          return (run?.status?.attempt ?? 1) >= 2 ? run : undefined;
        },
        { timeoutMs: 60_000, describe: () => cluster.diagnostics('digits-coordinator') }
      );
      console.log(`# digits-coordinator: attempt 2 ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the SIGKILL`);
      assert.equal(restarted.status?.lastFailure?.pod, 'digits-coordinator-coordinator');
      assert.equal(restarted.status?.lastFailure?.exitCode, 137);
      assert.equal(restarted.status?.lastFailure?.reason, 'Signal');
      const done = await waitForPhase('digits-coordinator', 'Succeeded', TRAINING_TIMEOUT_MS);
      console.log(`# digits-coordinator: Succeeded ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the SIGKILL`);
      assert.equal(done.status?.attempt, 2);
      assert.equal(done.status?.restarts, 1);
      const metrics = await assertTrainedModel('digits-coordinator', 2);
      assert.equal(metrics.final.globalStep, await expectedSteps(2));
      await assertEverySampleOnce(metrics, DATASET_URI, 2);
      assert.ok(await resumedFromCheckpoint('digits-coordinator'), 'attempt 2 resumed from the checkpoint');
    });

    it('the coordinator killed with SIGKILL while it ingests: the gang restarts, the new coordinator finishes the ingest and the run Succeeds with every sample once', async () => {
      const dataset = 's3://datasets/digits-ingest-kill';
      await apply(
        trainingRun('digits-ingest-kill', {
          dataset: { ingest: { source: RAW_IMAGES_URI, into: dataset, valFraction: 0.1 } }
        })
      );
      // Killed once it has listed the source and is decoding and uploading (~2 s for these 200 images).
      const victim = await eventually(
        'the coordinator of digits-ingest-kill to be ingesting',
        async () => {
          const running = cluster.agent.processOf('digits-ingest-kill-coordinator');
          const [log] = await cluster.agent.logsOf('digits-ingest-kill-coordinator');
          return running && log?.text.includes('"msg":"ingest: source scanned"') ? running : undefined;
        },
        { timeoutMs: STARTUP_TIMEOUT_MS, intervalMs: 20, describe: () => cluster.diagnostics('digits-ingest-kill') }
      );
      process.kill(victim.pid, 'SIGKILL');
      const killedAt = Date.now();
      const [first] = await cluster.agent.logsOf('digits-ingest-kill-coordinator');
      assert.doesNotMatch(first?.text ?? '', /"msg":"ingest: done"/, 'killed before the ingest ended');
      assert.equal(
        await hasObject(openStore(dataset, { s3: cluster.minio.config }), 'manifest.json'),
        false,
        'no manifest yet: the ingest was cut short'
      );
      const done = await waitForPhase('digits-ingest-kill', 'Succeeded', TRAINING_TIMEOUT_MS);
      console.log(`# digits-ingest-kill: Succeeded ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the SIGKILL`);
      assert.equal(done.status?.attempt, 2, `last failure: ${JSON.stringify(done.status?.lastFailure)}`);
      assert.equal(done.status?.restarts, 1);
      assert.equal(done.status?.lastFailure?.pod, 'digits-ingest-kill-coordinator');
      assert.equal(done.status?.lastFailure?.reason, 'Signal');
      const manifest = (await objectJson(openStore(dataset, { s3: cluster.minio.config }), 'manifest.json')) as {
        splits: { train: { count: number }; val: { count: number } };
      };
      assert.equal(manifest.splits.train.count + manifest.splits.val.count, 200, 'every raw image ingested');
      const metrics = await assertTrainedModel('digits-ingest-kill', 2);
      assert.equal(metrics.final.globalStep, Math.ceil(manifest.splits.train.count / (2 * BATCH_SIZE_PER_WORKER)) * 2);
      await assertEverySampleOnce(metrics, dataset, 2);
    });

    it('suspend deletes the pods and keeps the run; resume continues it to Succeeded', async () => {
      await apply(trainingRun('digits-pause'));
      await waitForCheckpoint('digits-pause');
      await setSuspended('digits-pause', true);
      await waitForPhase('digits-pause', 'Suspended', 60_000);
      await eventually(
        'no pods and no processes while suspended',
        async () =>
          (await livePodsOf('digits-pause')).length === 0 &&
          !cluster.agent.runningPods().some((key) => key.includes('digits-pause'))
            ? true
            : undefined,
        { timeoutMs: 60_000, describe: () => cluster.diagnostics('digits-pause') }
      );
      assert.ok(await hasObject(cluster.outputOf('digits-pause'), 'checkpoints/latest.json'), 'the checkpoint is kept');

      await setSuspended('digits-pause', false);
      const done = await waitForPhase('digits-pause', 'Succeeded', TRAINING_TIMEOUT_MS);
      assert.equal(done.status?.attempt, 2);
      assert.equal(done.status?.restarts ?? 0, 0, 'a suspension is not a failure');
      const phases = await phasesUpTo('digits-pause', 'Succeeded');
      assert.deepEqual(phases.slice(phases.indexOf('Running')), [
        'Running',
        'Suspended',
        'Pending',
        'Running',
        'Succeeded'
      ]);
      const metrics = await assertTrainedModel('digits-pause', 2);
      assert.equal(metrics.final.globalStep, await expectedSteps(2));
      assert.ok(await resumedFromCheckpoint('digits-pause'), 'the resumed attempt started from the checkpoint');
    });

    it('kubectl delete of a running run: the garbage collector removes its pods (ending their processes), Services, Secret and ConfigMap', async () => {
      await apply(trainingRun('digits-delete'));
      const pods = ['digits-delete-coordinator', 'digits-delete-worker-0', 'digits-delete-worker-1'];
      await eventually(
        'the gang of digits-delete to run',
        async () => (pods.every((pod) => cluster.agent.processOf(pod)) ? true : undefined),
        { timeoutMs: STARTUP_TIMEOUT_MS, describe: () => cluster.diagnostics('digits-delete') }
      );
      const uid = (await cluster.getRun('digits-delete'))?.metadata?.uid;
      assert.ok(uid);
      // What the garbage collector works from: every object the operator made names the run as its controller.
      const made = await objectsOf('digits-delete', uid);
      assert.deepEqual(made.map((object) => object.name).sort(), [
        'ConfigMap/digits-delete-config',
        'Pod/digits-delete-coordinator',
        'Pod/digits-delete-worker-0',
        'Pod/digits-delete-worker-1',
        'Secret/digits-delete-token',
        'Service/digits-delete-coordinator',
        'Service/digits-delete-workers'
      ]);
      for (const object of made)
        assert.deepEqual(
          object.controllers,
          [{ kind: 'TrainingRun', name: 'digits-delete', uid, blockOwnerDeletion: true }],
          object.name
        );

      const deleted = await cluster.kubectl(['delete', 'trainingrun', 'digits-delete']);
      assert.equal(deleted.code, 0, deleted.stderr);
      assert.equal(await cluster.getRun('digits-delete'), undefined, 'no finalizer holds the run back');
      await eventually(
        'every child of digits-delete to be collected and its processes to end',
        async () =>
          (await objectsOf('digits-delete', uid)).length === 0 &&
          !cluster.agent.runningPods().some((key) => key.includes('digits-delete'))
            ? true
            : undefined,
        { timeoutMs: STARTUP_TIMEOUT_MS, describe: () => cluster.diagnostics('digits-delete') }
      );
      // The operator does not bring anything back for a run that is gone (no recreate loop).
      await sleep(5000);
      assert.deepEqual(await objectsOf('digits-delete', uid), []);
      // What the user made and the run only referred to stays.
      assert.equal(
        (await cluster.core.readNamespacedSecret({ namespace: NAMESPACE, name: CREDENTIALS_SECRET })).metadata?.name,
        CREDENTIALS_SECRET
      );
    });
  }
);
