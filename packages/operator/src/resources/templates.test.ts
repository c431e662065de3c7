import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_COLLECTIVE_TIMEOUT_SECONDS, DEFAULT_HEARTBEAT_TIMEOUT_SECONDS } from '@ringtrain/proto';
import {
  RESERVED_ANNOTATION_KEYS,
  RESERVED_LABEL_KEYS,
  RESERVED_LABEL_PREFIX,
  RESERVED_MOUNT_PATHS,
  RESERVED_VOLUME_NAMES
} from '../api/pod-template-schema.js';
import { TrainingRunSchema } from '../api/training-run.js';
import { parseTrainingRun } from '../api/validate.js';
import { sampleRunInput } from '../api/sample-run.test-helper.js';
import {
  buildConfigMap,
  buildCoordinatorPod,
  buildCoordinatorService,
  buildNetworkPolicy,
  buildSecret,
  buildWorkerPod,
  buildWorkersService,
  coordinatorRunConfig
} from './templates.js';

const run = parseTrainingRun(
  sampleRunInput({
    spec: {
      dataset: { uri: 's3://datasets/flowers' },
      workers: {
        replicas: 4,
        image: 'ringtrain:test',
        resources: { requests: { cpu: '4', memory: '16Gi' }, limits: { memory: '16Gi' } },
        nodeSelector: { pool: 'gpu' },
        tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
        env: [{ name: 'RINGTRAIN_TOKEN', value: 'user-tries-to-override' }]
      },
      storage: { endpoint: 'http://minio:9000', credentialsSecretRef: { name: 'minio-creds' } }
    }
  })
);
const envOf = (pod: ReturnType<typeof buildWorkerPod>) =>
  Object.fromEntries((pod.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));

describe('pod and service templates', () => {
  it('name workers by rank and give each a stable DNS name under the headless Service', () => {
    const pod = buildWorkerPod(run, 3, 2);
    assert.equal(pod.metadata?.name, 'flowers-worker-3');
    assert.equal(pod.spec?.hostname, 'worker-3');
    assert.equal(pod.spec?.subdomain, 'flowers-workers');
    assert.equal(buildWorkersService(run).metadata?.name, 'flowers-workers');
    assert.equal(buildWorkersService(run).spec?.clusterIP, 'None');
    assert.equal(buildWorkersService(run).spec?.publishNotReadyAddresses, true);
    assert.deepEqual(buildWorkersService(run).spec?.selector, {
      'ringtrain.dev/run': 'flowers',
      'ringtrain.dev/role': 'worker'
    });
  });

  it('give workers their rank, world size and attempt, the token from the Secret, and the coordinator address', () => {
    const pod = buildWorkerPod(run, 1, 2);
    const env = envOf(pod);
    assert.equal(env.RINGTRAIN_RANK, '1');
    assert.equal(env.RINGTRAIN_WORLD_SIZE, '4');
    assert.equal(env.RINGTRAIN_ATTEMPT, '2');
    assert.equal(env.RINGTRAIN_ADVERTISE_HOST, 'worker-1.flowers-workers.default.svc');
    assert.deepEqual(env.RINGTRAIN_POD_IP, { fieldRef: { fieldPath: 'status.podIP' } });
    assert.equal(env.RINGTRAIN_S3_ENDPOINT, 'http://minio:9000');
    assert.equal(env.RINGTRAIN_S3_CREDENTIALS_DIR, '/var/run/secrets/ringtrain/s3');
    const container = pod.spec?.containers[0];
    assert.deepEqual(container?.command, ['ringtrain', 'worker']);
    assert.deepEqual(container?.args, [
      '--coordinator',
      'flowers-coordinator:50051',
      '--worker-id',
      'flowers-worker-1',
      '--host',
      '0.0.0.0',
      '--reconnect-deadline',
      '300'
    ]);
    // The operator's token wins over a user's env of the same name: it is listed last.
    const tokens = (container?.env ?? []).filter((e) => e.name === 'RINGTRAIN_TOKEN');
    assert.deepEqual(tokens.at(-1)?.valueFrom, { secretKeyRef: { name: 'flowers-token', key: 'token' } });
    assert.equal(pod.metadata?.labels?.['ringtrain.dev/attempt'], '2');
    assert.equal(pod.metadata?.labels?.['ringtrain.dev/rank'], '1');
  });

  it('ask for one nvidia.com/gpu per worker by default, beside the user resources', () => {
    const resources = buildWorkerPod(run, 0, 1).spec?.containers[0]?.resources;
    assert.deepEqual(resources, {
      requests: { cpu: '4', memory: '16Gi', 'ephemeral-storage': '11Gi' },
      limits: { memory: '16Gi', 'nvidia.com/gpu': '1', 'ephemeral-storage': '11Gi' }
    });
    const cpuRun = parseTrainingRun(
      sampleRunInput({ spec: { workers: { replicas: 1, image: 'x', gpu: { count: 0 } } } })
    );
    assert.deepEqual(buildWorkerPod(cpuRun, 0, 1).spec?.containers[0]?.resources, {
      requests: { 'ephemeral-storage': '11Gi' },
      limits: { 'ephemeral-storage': '11Gi' }
    });
  });

  it('tell a worker given GPUs how many and of which resource, so it refuses to train on the CPU; nothing for CPU workers', () => {
    const env = envOf(buildWorkerPod(run, 0, 1));
    assert.equal(env.RINGTRAIN_EXPECTED_GPUS, '1');
    assert.equal(env.RINGTRAIN_GPU_RESOURCE, 'nvidia.com/gpu');
    const amd = envOf(buildWorkerPod(run, 0, 1, { defaultGpuResource: 'amd.com/gpu' }));
    assert.equal(amd.RINGTRAIN_GPU_RESOURCE, 'amd.com/gpu');
    const cpuRun = parseTrainingRun(
      sampleRunInput({
        spec: {
          workers: {
            replicas: 1,
            image: 'x',
            gpu: { count: 0 },
            env: [{ name: 'RINGTRAIN_EXPECTED_GPUS', value: '0' }]
          }
        }
      })
    );
    const cpuEnv = (buildWorkerPod(cpuRun, 0, 1).spec?.containers[0]?.env ?? []).filter((e) =>
      ['RINGTRAIN_EXPECTED_GPUS', 'RINGTRAIN_GPU_RESOURCE'].includes(e.name)
    );
    assert.deepEqual(
      cpuEnv,
      [{ name: 'RINGTRAIN_EXPECTED_GPUS', value: '0' }],
      "a CPU worker gets none of its own; a user's stays as given"
    );
    // Its reason (the CLI's last line) reaches status.lastFailure.message.
    assert.equal(buildWorkerPod(run, 0, 1).spec?.containers[0]?.terminationMessagePolicy, 'FallbackToLogsOnError');
  });

  it("ask for the cluster's GPU resource (--default-gpu-resource) when the run names none", () => {
    const limits = buildWorkerPod(run, 0, 1, { defaultGpuResource: 'amd.com/gpu' }).spec?.containers[0]?.resources
      ?.limits;
    assert.deepEqual(limits, { memory: '16Gi', 'amd.com/gpu': '1', 'ephemeral-storage': '11Gi' });
  });

  it("ask for the run's own GPU resource over the cluster's", () => {
    const intel = parseTrainingRun(
      sampleRunInput({
        spec: { workers: { replicas: 1, image: 'x', gpu: { resourceName: 'gpu.intel.com/i915', count: 2 } } }
      })
    );
    const limits = buildWorkerPod(intel, 0, 1, { defaultGpuResource: 'amd.com/gpu' }).spec?.containers[0]?.resources
      ?.limits;
    assert.deepEqual(limits, { 'gpu.intel.com/i915': '2', 'ephemeral-storage': '11Gi' });
  });

  it('run every pod as non-root with a read-only root filesystem, no token automount and writable /tmp and /cache', () => {
    for (const pod of [buildWorkerPod(run, 0, 1), buildCoordinatorPod(run, 1)]) {
      assert.equal(pod.spec?.securityContext?.runAsNonRoot, true);
      assert.equal(pod.spec?.automountServiceAccountToken, false);
      assert.equal(pod.spec?.restartPolicy, 'Never');
      const container = pod.spec?.containers[0];
      assert.deepEqual(container?.securityContext, {
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] }
      });
      assert.deepEqual(container?.volumeMounts?.map((m) => m.mountPath).slice(0, 4), [
        '/tmp',
        '/cache',
        '/var/run/secrets/ringtrain/identity',
        '/var/run/secrets/ringtrain/s3'
      ]);
    }
  });

  it("give both roles the run's TLS identity from its Secret, readable by the pod's group only, and probe the coordinator over HTTPS", () => {
    for (const pod of [buildWorkerPod(run, 0, 1), buildCoordinatorPod(run, 1)]) {
      assert.deepEqual(
        pod.spec?.volumes?.find((v) => v.name === 'run-identity'),
        {
          name: 'run-identity',
          secret: {
            secretName: 'flowers-token',
            defaultMode: 0o440,
            items: ['ca.crt', 'tls.crt', 'tls.key'].map((key) => ({ key, path: key }))
          }
        }
      );
      const env = pod.spec?.containers[0]?.env ?? [];
      assert.equal(env.find((e) => e.name === 'RINGTRAIN_TLS_DIR')?.value, '/var/run/secrets/ringtrain/identity');
    }
    assert.deepEqual(buildCoordinatorPod(run, 1).spec?.containers[0]?.readinessProbe?.httpGet, {
      path: '/healthz',
      port: 8080,
      scheme: 'HTTPS'
    });
    assert.deepEqual(
      Object.keys(
        buildSecret(run, 't'.repeat(32), { ca: 'CA', certificate: 'CERT', privateKey: 'KEY' }).stringData ?? {}
      ),
      ['token', 'ca.crt', 'tls.crt', 'tls.key']
    );
  });

  describe('ephemeral storage and probes', () => {
    const withWorkers = (workers: Record<string, unknown>) =>
      parseTrainingRun(
        sampleRunInput({ spec: { workers: { replicas: 1, image: 'x', gpu: { count: 0 }, ...workers } } })
      );

    it("limits a worker's ephemeral storage above its /cache sizeLimit (the emptyDir counts toward it), by the scratch room", () => {
      const pod = buildWorkerPod(withWorkers({ cacheSizeLimit: '1500Mi' }), 0, 1);
      const cache = pod.spec?.volumes?.find((v) => v.name === 'cache')?.emptyDir?.sizeLimit;
      assert.equal(cache, '1500Mi');
      const resources = pod.spec?.containers[0]?.resources;
      assert.equal(resources?.limits?.['ephemeral-storage'], '2524Mi');
      assert.equal(resources?.requests?.['ephemeral-storage'], '2524Mi');
    });

    it('takes ephemeral-storage as given when the spec names it, in requests or limits', () => {
      const own = buildWorkerPod(
        withWorkers({ resources: { requests: { memory: '1Gi' }, limits: { 'ephemeral-storage': '50Gi' } } }),
        0,
        1
      );
      assert.deepEqual(own.spec?.containers[0]?.resources, {
        requests: { memory: '1Gi' },
        limits: { 'ephemeral-storage': '50Gi' }
      });
    });

    it('marks ready a worker whose ring server listens, with a TCP check on its collective port', () => {
      assert.deepEqual(buildWorkerPod(run, 0, 1).spec?.containers[0]?.readinessProbe, {
        tcpSocket: { port: 50052 },
        periodSeconds: 5
      });
    });

    it('annotates every pod with the kube-score check it deliberately fails (docs/operator.md says why)', () => {
      for (const pod of [buildWorkerPod(run, 0, 1), buildCoordinatorPod(run, 1)]) {
        assert.deepEqual(pod.metadata?.annotations, { 'kube-score/ignore': 'container-image-pull-policy' });
        assert.equal(pod.spec?.containers[0]?.imagePullPolicy, 'IfNotPresent');
      }
    });
  });

  describe("the coordinator's own resources, placement and image", () => {
    it("does not inherit the workers' GPU nodeSelector and tolerations, nor their resources", () => {
      const worker = buildWorkerPod(run, 0, 1).spec;
      assert.deepEqual(worker?.nodeSelector, { pool: 'gpu' });
      assert.equal(worker?.tolerations?.[0]?.key, 'nvidia.com/gpu');
      const coordinator = buildCoordinatorPod(run, 1).spec;
      assert.equal(coordinator?.nodeSelector, undefined);
      assert.equal(coordinator?.tolerations, undefined);
    });

    it('defaults to limits sized for an ingest (2 CPUs, 2 GiB), with a CPU limit its ingest sizes its decoding to, and requests for the rest of the run', () => {
      assert.deepEqual(buildCoordinatorPod(run, 1).spec?.containers[0]?.resources, {
        requests: { cpu: '250m', memory: '512Mi', 'ephemeral-storage': '1Gi' },
        limits: { cpu: '2', memory: '2Gi', 'ephemeral-storage': '1Gi' }
      });
    });

    it("defaults to the workers' image, so both sides of the run's contract come from one build", () => {
      assert.equal(buildCoordinatorPod(run, 1).spec?.containers[0]?.image, 'ringtrain:test');
    });

    it('takes image, resources, nodeSelector and tolerations from spec.coordinator', () => {
      const input = sampleRunInput();
      const own = parseTrainingRun({
        ...input,
        spec: {
          ...input.spec,
          workers: { ...input.spec.workers, nodeSelector: { pool: 'gpu' } },
          coordinator: {
            image: 'ringtrain-cpu:test',
            resources: { requests: { cpu: '500m' }, limits: { memory: '8Gi', cpu: 4 } },
            nodeSelector: { pool: 'cpu' },
            tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'ingest', effect: 'NoSchedule' }]
          }
        }
      });
      const pod = buildCoordinatorPod(own, 1);
      assert.equal(pod.spec?.containers[0]?.image, 'ringtrain-cpu:test');
      assert.deepEqual(pod.spec?.containers[0]?.resources, {
        requests: { cpu: '500m', 'ephemeral-storage': '1Gi' },
        limits: { memory: '8Gi', cpu: '4', 'ephemeral-storage': '1Gi' }
      });
      assert.deepEqual(pod.spec?.nodeSelector, { pool: 'cpu' });
      assert.deepEqual(pod.spec?.tolerations, [
        { key: 'dedicated', operator: 'Equal', value: 'ingest', effect: 'NoSchedule' }
      ]);
      assert.equal(buildWorkerPod(own, 0, 1).spec?.containers[0]?.image, 'ringtrain:test');
    });

    it("passes spec.dataset.ingest.maxResolution to the coordinator's ingest, and leaves it out when unset (its default applies)", () => {
      const ingesting = (ingest: Record<string, unknown>) =>
        parseTrainingRun(
          sampleRunInput({
            spec: { dataset: { ingest: { source: 's3://raw/photos', into: 's3://datasets/photos', ...ingest } } }
          })
        );
      assert.deepEqual(coordinatorRunConfig(ingesting({ maxResolution: 512 })).ingest, {
        source: 's3://raw/photos',
        valFraction: 0.1,
        seed: 0,
        maxResolution: 512
      });
      assert.deepEqual(coordinatorRunConfig(ingesting({})).ingest, {
        source: 's3://raw/photos',
        valFraction: 0.1,
        seed: 0
      });
    });
  });

  it('give worker and coordinator pods 120 s to stop by default (a step and a checkpoint on the slowest backend), or spec.runPolicy.terminationGracePeriodSeconds', () => {
    for (const pod of [buildWorkerPod(run, 0, 1), buildCoordinatorPod(run, 1)])
      assert.equal(pod.spec?.terminationGracePeriodSeconds, 120);
    const patient = parseTrainingRun(sampleRunInput({ spec: { runPolicy: { terminationGracePeriodSeconds: 900 } } }));
    for (const pod of [buildWorkerPod(patient, 0, 1), buildCoordinatorPod(patient, 1)])
      assert.equal(pod.spec?.terminationGracePeriodSeconds, 900);
  });

  it("bound the workers' /cache by spec.workers.cacheSizeLimit (default 10Gi) and give their shard caches 90% of it", () => {
    const cacheOf = (pod: ReturnType<typeof buildWorkerPod>) =>
      pod.spec?.volumes?.find((v) => v.name === 'cache')?.emptyDir;
    assert.deepEqual(cacheOf(buildWorkerPod(run, 0, 1)), { sizeLimit: '10Gi' });
    assert.equal(coordinatorRunConfig(run).cacheBytes, Math.floor(10 * 2 ** 30 * 0.9));
    const input = sampleRunInput();
    const small = parseTrainingRun({
      ...input,
      spec: { ...input.spec, workers: { ...input.spec.workers, cacheSizeLimit: '500Mi' } }
    });
    assert.deepEqual(cacheOf(buildWorkerPod(small, 0, 1)), { sizeLimit: '500Mi' });
    assert.equal(coordinatorRunConfig(small).cacheBytes, Math.floor(500 * 2 ** 20 * 0.9));
    const decimal = parseTrainingRun({
      ...input,
      spec: { ...input.spec, workers: { ...input.spec.workers, cacheSizeLimit: '1.5G' } }
    });
    assert.equal(coordinatorRunConfig(decimal).cacheBytes, Math.floor(1.5e9 * 0.9));
    assert.deepEqual(cacheOf(buildCoordinatorPod(run, 1)), {}, 'the coordinator keeps no shards');
  });

  it('put a controller owner reference on every child so deleting the run deletes them', () => {
    for (const object of [
      buildWorkerPod(run, 0, 1),
      buildCoordinatorPod(run, 1),
      buildCoordinatorService(run),
      buildWorkersService(run),
      buildSecret(run, 't'.repeat(32)),
      buildConfigMap(run),
      buildNetworkPolicy(run)
    ]) {
      assert.deepEqual(object.metadata?.ownerReferences, [
        {
          apiVersion: 'ringtrain.dev/v1alpha1',
          kind: 'TrainingRun',
          name: 'flowers',
          uid: 'uid-flowers',
          controller: true,
          blockOwnerDeletion: true
        }
      ]);
      assert.equal(object.metadata?.namespace, 'default');
    }
  });

  describe('the per-run NetworkPolicy', () => {
    const operatorPods = {
      namespace: 'ringtrain-system',
      labels: { 'app.kubernetes.io/instance': 'rt', 'app.kubernetes.io/component': 'operator' }
    };
    const policy = buildNetworkPolicy(run, { operatorPods });
    const thisRun = {
      podSelector: { matchLabels: { 'ringtrain.dev/run': 'flowers', 'ringtrain.dev/run-uid': 'uid-flowers' } }
    };

    it("fences in every pod of the run, and only this run's pods: by name and uid, which another run cannot copy", () => {
      assert.equal(policy.metadata?.name, 'flowers-network-policy');
      assert.deepEqual(policy.spec?.podSelector, thisRun.podSelector);
      assert.deepEqual(policy.spec?.policyTypes, ['Ingress', 'Egress']);
      for (const pod of [buildWorkerPod(run, 0, 1), buildCoordinatorPod(run, 1)])
        assert.equal(pod.metadata?.labels?.['ringtrain.dev/run-uid'], 'uid-flowers', 'its pods carry the uid');
    });

    it('lets the pods reach only their run, DNS, the object store, the dataset service and the opt-in list', () => {
      const egress = buildNetworkPolicy(run, {
        datasetService: 'ringtrain-dataset-service.ringtrain-system:7071',
        uriPolicy: { schemes: ['s3', 'https'], hosts: ['models.example.com'] },
        runEgress: [{ cidr: '10.0.0.0/8', port: 3128 }]
      }).spec?.egress;
      assert.deepEqual(egress?.[0], {
        to: [thisRun],
        ports: [
          { port: 'collective', protocol: 'TCP' },
          { port: 'grpc', protocol: 'TCP' },
          { port: 'http', protocol: 'TCP' }
        ]
      });
      assert.deepEqual(egress?.[1]?.ports, [
        { port: 53, protocol: 'UDP' },
        { port: 53, protocol: 'TCP' }
      ]);
      // MinIO's 9000, the dataset service's 7071, and 443 as https weights are allowed in this cluster.
      assert.deepEqual(
        egress?.[2]?.ports?.map((port) => port.port),
        [443, 7071, 9000]
      );
      assert.deepEqual(egress?.[3], {
        to: [{ ipBlock: { cidr: '10.0.0.0/8' } }],
        ports: [{ port: 3128, protocol: 'TCP' }]
      });
      assert.equal(egress?.length, 4, 'nothing else');
      // No endpoint: AWS S3, over https.
      const aws = parseTrainingRun(sampleRunInput());
      assert.deepEqual(buildNetworkPolicy(aws).spec?.egress?.[2], { ports: [{ port: 443, protocol: 'TCP' }] });
    });

    it("lets only the run's own pods reach a worker's collective port and the coordinator's gRPC and HTTP ports", () => {
      const [fromRun] = policy.spec?.ingress ?? [];
      assert.deepEqual(fromRun?._from, [thisRun]);
      assert.deepEqual(fromRun?.ports, [
        { port: 'collective', protocol: 'TCP' },
        { port: 'grpc', protocol: 'TCP' },
        { port: 'http', protocol: 'TCP' }
      ]);
    });

    it('names the ports the pods declare, so each rule reaches only the role that has the port', () => {
      const declared = (pod: ReturnType<typeof buildWorkerPod>) => pod.spec?.containers[0]?.ports?.map((p) => p.name);
      assert.deepEqual(declared(buildWorkerPod(run, 0, 1)), ['collective']);
      assert.deepEqual(declared(buildCoordinatorPod(run, 1)), ['grpc', 'http']);
    });

    it("lets the operator's pods, in their namespace, read the coordinator's HTTP port (/status)", () => {
      const fromOperator = policy.spec?.ingress?.[1];
      assert.deepEqual(fromOperator?._from, [
        {
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ringtrain-system' } },
          podSelector: { matchLabels: operatorPods.labels }
        }
      ]);
      assert.deepEqual(fromOperator?.ports, [{ port: 'http', protocol: 'TCP' }]);
    });

    it('opens the HTTP port to every source when the operator’s pods are not known (an operator outside the cluster)', () => {
      const open = buildNetworkPolicy(run).spec?.ingress?.[1];
      assert.equal(open?._from, undefined);
      assert.deepEqual(open?.ports, [{ port: 'http', protocol: 'TCP' }]);
    });
  });

  it('refuse to build children of a run that has no uid, saying why', () => {
    const unsaved = parseTrainingRun({ ...sampleRunInput(), metadata: { name: 'flowers' } });
    assert.throws(() => buildSecret(unsaved, 'x'), /has no metadata\.uid/);
  });

  it('start the coordinator with the run configuration derived from the spec', () => {
    const pod = buildCoordinatorPod(run, 1);
    const container = pod.spec?.containers[0];
    assert.deepEqual(container?.command, ['ringtrain', 'coordinator']);
    assert.deepEqual(container?.args, [
      '--config',
      '/etc/ringtrain/run.json',
      '--host',
      '0.0.0.0',
      '--port',
      '50051',
      '--http-port',
      '8080',
      '--heartbeat-timeout',
      '60',
      '--max-restarts',
      '3',
      '--reconnect-deadline',
      '300'
    ]);
    assert.deepEqual(
      container?.ports?.map((p) => p.containerPort),
      [50051, 8080]
    );
    assert.ok(container?.volumeMounts?.some((m) => m.mountPath === '/etc/ringtrain' && m.readOnly));
    assert.deepEqual(pod.spec?.volumes?.find((v) => v.name === 'run-config')?.configMap, { name: 'flowers-config' });
    const configMap = buildConfigMap(run);
    assert.equal(configMap.metadata?.name, 'flowers-config');
    const config = JSON.parse(configMap.data?.['run.json'] ?? '') as Record<string, unknown>;
    assert.deepEqual(config, coordinatorRunConfig(run));
    assert.equal(config.runId, 'default/flowers');
    assert.equal(config.workers, 4);
    assert.equal(config.partitions, 4);
    assert.equal(config.dataset, 's3://datasets/flowers');
    assert.equal(config.batchSize, 32);
    assert.equal('dropLastBatchBelow' in config, false, "unset, the coordinator's own default applies");
    assert.deepEqual(
      buildCoordinatorService(run).spec?.ports?.map((p) => p.port),
      [50051, 8080]
    );
    const input = sampleRunInput();
    const keepLast = parseTrainingRun({
      ...input,
      spec: { ...input.spec, hyperparameters: { ...input.spec.hyperparameters, dropLastBatchBelow: 0 } }
    });
    assert.equal(coordinatorRunConfig(keepLast).dropLastBatchBelow, 0);
  });

  it('pass spec.runPolicy.reconnectDeadlineSeconds to both pods as --reconnect-deadline', () => {
    const patient = parseTrainingRun(sampleRunInput({ spec: { runPolicy: { reconnectDeadlineSeconds: 900 } } }));
    for (const container of [
      buildCoordinatorPod(patient, 1).spec?.containers[0],
      buildWorkerPod(patient, 0, 1).spec?.containers[0]
    ]) {
      assert.deepEqual(container?.args?.slice(-2), ['--reconnect-deadline', '900']);
    }
  });

  it('pass spec.runPolicy.heartbeatTimeoutSeconds to the coordinator and collectiveTimeoutSeconds to the workers through run.json', () => {
    const slowSteps = parseTrainingRun(
      sampleRunInput({ spec: { runPolicy: { heartbeatTimeoutSeconds: 45, collectiveTimeoutSeconds: 900 } } })
    );
    const args = buildCoordinatorPod(slowSteps, 1).spec?.containers[0]?.args ?? [];
    assert.equal(args[args.indexOf('--heartbeat-timeout') + 1], '45');
    assert.equal(coordinatorRunConfig(slowSteps).collectiveTimeoutMs, 900_000);
    assert.equal(run.spec.runPolicy.heartbeatTimeoutSeconds, DEFAULT_HEARTBEAT_TIMEOUT_SECONDS);
    assert.equal(coordinatorRunConfig(run).collectiveTimeoutMs, DEFAULT_COLLECTIVE_TIMEOUT_SECONDS * 1000);
  });

  it('keep the collective token in the Secret only', () => {
    assert.deepEqual(buildSecret(run, 'secret-token-0123456789').stringData, { token: 'secret-token-0123456789' });
    assert.ok(!JSON.stringify(buildWorkerPod(run, 0, 1)).includes('secret-token'));
  });
});

describe('pod template fields (spec.workers and spec.coordinator)', () => {
  const weights = { name: 'weights', persistentVolumeClaim: { claimName: 'resnet-weights', readOnly: true } };
  const fields = {
    affinity: {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In' as const, values: ['a', 'b'] }] }]
        }
      },
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          { weight: 50, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname' } }
        ]
      }
    },
    topologySpreadConstraints: [
      { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway' as const }
    ],
    priorityClassName: 'training-high',
    schedulerName: 'volcano',
    serviceAccountName: 'trainer',
    imagePullSecrets: [{ name: 'registry' }],
    volumes: [weights, { name: 'extra', configMap: { name: 'labels' } }],
    volumeMounts: [{ name: 'weights', mountPath: '/weights', readOnly: true }],
    labels: { team: 'vision' },
    annotations: { 'example.com/cost-center': '42' },
    envFrom: [{ secretRef: { name: 'wandb' } }, { configMapRef: { name: 'settings' }, prefix: 'APP_' }]
  };
  const templated = parseTrainingRun(
    sampleRunInput({
      spec: {
        workers: { replicas: 2, image: 'ringtrain:test', ...fields },
        coordinator: { ...fields, env: [{ name: 'RINGTRAIN_LOG_LEVEL', value: 'debug' }] }
      }
    })
  );

  for (const [role, built] of [
    ['worker', buildWorkerPod(templated, 1, 1)],
    ['coordinator', buildCoordinatorPod(templated, 1)]
  ] as const) {
    it(`reach the ${role} pod, each where Kubernetes reads it`, () => {
      const spec = built.spec;
      const container = spec?.containers[0];
      assert.deepEqual(spec?.affinity, fields.affinity);
      assert.deepEqual(spec?.topologySpreadConstraints, fields.topologySpreadConstraints);
      assert.equal(spec?.priorityClassName, 'training-high');
      assert.equal(spec?.schedulerName, 'volcano');
      assert.equal(spec?.serviceAccountName, 'trainer');
      assert.deepEqual(spec?.imagePullSecrets, [{ name: 'registry' }]);
      assert.deepEqual(spec?.volumes?.slice(-2), fields.volumes);
      assert.deepEqual(container?.volumeMounts?.at(-1), { name: 'weights', mountPath: '/weights', readOnly: true });
      assert.equal(built.metadata?.labels?.team, 'vision');
      assert.equal(built.metadata?.annotations?.['example.com/cost-center'], '42');
      assert.deepEqual(container?.envFrom, fields.envFrom);
    });

    it(`leave what the operator owns in the ${role} pod as it was`, () => {
      const bare = parseTrainingRun(sampleRunInput());
      const plain = role === 'worker' ? buildWorkerPod(bare, 1, 1) : buildCoordinatorPod(bare, 1);
      const container = built.spec?.containers[0];
      const plainContainer = plain.spec?.containers[0];
      assert.deepEqual(container?.ports, plainContainer?.ports);
      assert.deepEqual(container?.securityContext, plainContainer?.securityContext);
      assert.deepEqual(built.spec?.securityContext, plain.spec?.securityContext);
      assert.equal(built.spec?.automountServiceAccountToken, false, 'a ServiceAccount does not bring its API token');
      assert.equal(built.spec?.restartPolicy, 'Never');
      assert.equal(built.metadata?.labels?.['ringtrain.dev/run'], 'flowers');
      assert.equal(built.metadata?.annotations?.['kube-score/ignore'], 'container-image-pull-policy');
      const ownVolumes = (plain.spec?.volumes ?? []).map((v) => v.name);
      assert.deepEqual(
        built.spec?.volumes?.slice(0, ownVolumes.length).map((v) => v.name),
        ownVolumes,
        "the operator's volumes first, unchanged"
      );
    });
  }

  it("reserve every volume name, mount path and label key the operator's pods use (validation-rules.ts refuses them)", () => {
    const withStorage = parseTrainingRun(
      sampleRunInput({
        spec: { storage: { endpoint: 'http://minio:9000', credentialsSecretRef: { name: 'creds' } } }
      })
    );
    for (const built of [buildWorkerPod(withStorage, 0, 1), buildCoordinatorPod(withStorage, 1)]) {
      for (const volume of built.spec?.volumes ?? [])
        assert.ok(RESERVED_VOLUME_NAMES.includes(volume.name), `${volume.name} is reserved`);
      for (const mount of built.spec?.containers[0]?.volumeMounts ?? [])
        assert.ok(
          RESERVED_MOUNT_PATHS.some((path) => mount.mountPath === path || mount.mountPath.startsWith(`${path}/`)),
          `${mount.mountPath} is reserved`
        );
      for (const key of Object.keys(built.metadata?.labels ?? {}))
        assert.ok(key.startsWith(RESERVED_LABEL_PREFIX) || RESERVED_LABEL_KEYS.includes(key), `${key} is reserved`);
      for (const key of Object.keys(built.metadata?.annotations ?? {}))
        assert.ok(RESERVED_ANNOTATION_KEYS.includes(key), `${key} is reserved`);
    }
  });

  it("put the operator's labels, annotations and variables over the spec's, for runs admitted before the rules", () => {
    // Parsed without the cross-field rules, as an object already stored would reach the operator.
    const stored = TrainingRunSchema.parse(
      sampleRunInput({
        spec: {
          coordinator: {
            labels: { 'ringtrain.dev/role': 'worker' },
            annotations: { 'kube-score/ignore': 'all' },
            env: [{ name: 'RINGTRAIN_TOKEN', value: 'mine' }]
          }
        }
      })
    );
    const built = buildCoordinatorPod(stored, 1);
    assert.equal(built.metadata?.labels?.['ringtrain.dev/role'], 'coordinator');
    assert.equal(built.metadata?.annotations?.['kube-score/ignore'], 'container-image-pull-policy');
    const tokens = (built.spec?.containers[0]?.env ?? []).filter((e) => e.name === 'RINGTRAIN_TOKEN');
    assert.equal(tokens.length, 2);
    assert.deepEqual(tokens.at(-1)?.valueFrom, { secretKeyRef: { name: 'flowers-token', key: 'token' } });
    assert.equal(
      envOf(buildCoordinatorPod(templated, 1)).RINGTRAIN_LOG_LEVEL,
      'debug',
      "a variable the operator does not set is the user's"
    );
  });
});
