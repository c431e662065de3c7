import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveRunConfig } from '@ringtrain/coordinator';
import { parseTrainingConfig, type TrainingConfigInput } from '@ringtrain/model';
import { MAX_WORLD_SIZE } from '@ringtrain/proto';
import { parseRunConfig } from '@ringtrain/protocol';
import { parseTrainingRun, validateTrainingRun } from '../api/validate.js';
import { sampleRunInput } from '../api/sample-run.test-helper.js';
import { buildConfigMap, buildCoordinatorPod, buildWorkerPod, coordinatorRunConfig } from './templates.js';

// The ConfigMap's run.json is read by `ringtrain coordinator --config`; this pins the two packages together.
describe('the run configuration handed to the coordinator', () => {
  it('is accepted by the coordinator package’s own schema, for GPU and CPU runs', () => {
    const gpu = parseTrainingRun(
      sampleRunInput({ spec: { model: { numClasses: 5, pretrained: 's3://models/r18.safetensors' } } })
    );
    const cpu = parseTrainingRun(
      sampleRunInput({
        spec: {
          dataset: { ingest: { source: 's3://raw/x', into: 's3://datasets/x' } },
          workers: { replicas: 3, image: 'x', gpu: { count: 0 } }
        }
      })
    );
    for (const run of [gpu, cpu]) {
      const config = parseRunConfig(coordinatorRunConfig(run), 'the operator');
      assert.equal(config.workers, run.spec.workers.replicas);
      assert.equal(config.out, run.spec.output.uri);
    }
    assert.equal(parseRunConfig(coordinatorRunConfig(cpu), 'the operator').dataset, 's3://datasets/x');
  });

  it('carries spec.runPolicy.collectiveTimeoutSeconds into the run configuration, whose default is the same', () => {
    const run = parseTrainingRun(sampleRunInput({ spec: { runPolicy: { collectiveTimeoutSeconds: 600 } } }));
    assert.equal(parseRunConfig(coordinatorRunConfig(run), 'the operator').collectiveTimeoutMs, 600_000);
    const defaults = parseTrainingRun(sampleRunInput());
    const { collectiveTimeoutMs: _, ...withoutIt } = coordinatorRunConfig(defaults);
    assert.equal(
      parseRunConfig(withoutIt, 'the operator').collectiveTimeoutMs,
      parseRunConfig(coordinatorRunConfig(defaults), 'the operator').collectiveTimeoutMs
    );
  });

  it(`bounds replicas where the coordinator bounds workers (${MAX_WORLD_SIZE}), so no run is admitted that the coordinator refuses`, () => {
    const most = parseTrainingRun(
      sampleRunInput({ spec: { workers: { replicas: MAX_WORLD_SIZE, image: 'x', gpu: { count: 0 } } } })
    );
    assert.equal(parseRunConfig(coordinatorRunConfig(most), 'the operator').workers, MAX_WORLD_SIZE);
    const tooMany = validateTrainingRun(
      sampleRunInput({ spec: { workers: { replicas: MAX_WORLD_SIZE + 1, image: 'x', gpu: { count: 0 } } } })
    );
    assert.equal(tooMany.ok, false);
    if (!tooMany.ok)
      assert.deepEqual(
        tooMany.errors.map((e) => e.path),
        ['spec.workers.replicas']
      );
    assert.throws(
      () => parseRunConfig({ ...coordinatorRunConfig(most), workers: MAX_WORLD_SIZE + 1 }, 'the operator'),
      /workers/
    );
  });

  it('resolves, with the dataset the coordinator reads, to a training configuration the workers accept, for every optimizer and schedule', () => {
    const dataset = { classes: ['cello', 'flute', 'harp', 'oboe', 'viola'], trainImages: 3840 };
    for (const optimizer of ['sgd', 'adam', 'adamw'] as const) {
      for (const schedule of ['constant', 'cosine', 'step'] as const) {
        const run = parseTrainingRun(
          sampleRunInput({
            spec: {
              hyperparameters: { optimizer, schedule, warmupEpochs: 1, batchSizePerWorker: 32 },
              workers: { replicas: 2, image: 'x', gpu: { count: 0 } }
            }
          })
        );
        const resolved = resolveRunConfig(parseRunConfig(coordinatorRunConfig(run), 'the operator'), dataset);
        const training = parseTrainingConfig(resolved.training as TrainingConfigInput);
        assert.equal(training.numClasses, 5);
        assert.equal(training.optimizer.kind, optimizer === 'sgd' ? 'sgd' : 'adam');
        assert.equal(training.optimizer.lr, run.spec.hyperparameters.learningRate);
        assert.equal(training.schedule.kind, schedule);
        assert.equal(training.warmupSteps, 60, '3,840 images ÷ (2 × 32) = 60 steps in the warmup epoch');
        if (training.optimizer.kind === 'adam') assert.equal(training.optimizer.decoupled, optimizer === 'adamw');
      }
    }
  });

  it('hands a run with spec.dataset.ingest to the coordinator to ingest into dataset.ingest.into, split with the run’s seed', () => {
    const run = parseTrainingRun(
      sampleRunInput({
        spec: {
          dataset: { ingest: { source: 's3://raw/flowers', into: 's3://datasets/flowers-ingested', valFraction: 0.2 } },
          hyperparameters: { seed: 7 },
          storage: { endpoint: 'http://minio.storage:9000', credentialsSecretRef: { name: 'minio-creds' } }
        }
      })
    );
    const config = parseRunConfig(coordinatorRunConfig(run), 'the operator');
    assert.equal(config.dataset, 's3://datasets/flowers-ingested');
    assert.deepEqual(config.ingest, { source: 's3://raw/flowers', valFraction: 0.2, seed: 7 });
    assert.equal(config.seed, 7);

    // The coordinator reads the source and writes the dataset: it needs what the workers get to reach the store.
    const coordinator = buildCoordinatorPod(run, 1);
    const worker = buildWorkerPod(run, 0, 1);
    for (const pod of [coordinator, worker]) {
      const env = Object.fromEntries((pod.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value]));
      assert.equal(env.RINGTRAIN_S3_ENDPOINT, 'http://minio.storage:9000', pod.metadata?.name);
      assert.equal(env.RINGTRAIN_S3_CREDENTIALS_DIR, '/var/run/secrets/ringtrain/s3', pod.metadata?.name);
      const mounted = pod.spec?.containers[0]?.volumeMounts?.find(
        (mount) => mount.mountPath === env.RINGTRAIN_S3_CREDENTIALS_DIR
      );
      const volume = pod.spec?.volumes?.find((each) => each.name === mounted?.name);
      assert.equal(volume?.secret?.secretName, 'minio-creds', pod.metadata?.name);
    }
    // A failed ingest is the coordinator's last log line, which the pod keeps as its termination message.
    assert.equal(coordinator.spec?.containers[0]?.terminationMessagePolicy, 'FallbackToLogsOnError');
    // The coordinator does not listen until the dataset is made: workers wait for it as long as it takes.
    const workerEnv = Object.fromEntries((worker.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value]));
    assert.equal(workerEnv.RINGTRAIN_COORDINATOR_WAIT_SECONDS, '0');
  });

  it('leaves ingest out for a run given an ingested dataset, and its workers wait for the coordinator as usual', () => {
    const run = parseTrainingRun(sampleRunInput());
    const config = parseRunConfig(coordinatorRunConfig(run), 'the operator');
    assert.equal(config.ingest, undefined);
    assert.equal(config.dataset, 's3://datasets/flowers');
    assert.ok(
      !(buildWorkerPod(run, 0, 1).spec?.containers[0]?.env ?? []).some(
        (e) => e.name === 'RINGTRAIN_COORDINATOR_WAIT_SECONDS'
      )
    );
  });

  it("carries the cluster's dataset service to the workers when the operator knows it, and leaves planning local otherwise", () => {
    const run = parseTrainingRun(sampleRunInput());
    assert.equal(parseRunConfig(coordinatorRunConfig(run), 'the operator').datasetService, undefined);
    const map = buildConfigMap(run, { datasetService: 'ringtrain-dataset-service.ringtrain-system:7071' });
    const config = parseRunConfig(JSON.parse(Object.values(map.data ?? {})[0]!) as unknown, 'the ConfigMap');
    assert.equal(config.datasetService, 'ringtrain-dataset-service.ringtrain-system:7071');
  });
});
