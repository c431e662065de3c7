import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import https from 'node:https';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CoordinationV1Api,
  KubeConfig,
  NetworkingV1Api,
  PatchStrategy,
  RbacAuthorizationV1Api,
  SchedulingV1Api,
  setHeaderOptions
} from '@kubernetes/client-node';
import { eventually } from '@ringtrain/testing';
import { parse } from 'yaml';
import { GROUP, PLURAL, VERSION } from '../api/group-version.js';
import { conditionIs } from '../reconcile/conditions.js';
import type { CoordinatorReport } from '../reconcile/plan.js';
import { Informer } from './informer.js';
import { KubeApi, statusCodeOf, type RawRun } from './kube-api.js';
import { startOperator, type RunningOperator } from './operator.js';
import {
  createRun,
  getRun,
  logger,
  namespace,
  operatorOptions,
  podsOf,
  runBody,
  runGang,
  runStatus,
  setPodPhase,
  startKubeWithTrainingRuns,
  type KubeWithTrainingRuns
} from './training-runs.test-helper.js';

let kube: KubeWithTrainingRuns['kube'];
let core: KubeWithTrainingRuns['core'];
let custom: KubeWithTrainingRuns['custom'];
let operator: RunningOperator | undefined;
const progress = new Map<string, CoordinatorReport>();

async function patchRunSpec(name: string, spec: Record<string, unknown>): Promise<void> {
  await custom.patchNamespacedCustomObject(
    { group: GROUP, version: VERSION, namespace, plural: PLURAL, name, body: { spec } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch)
  );
}

async function eventsOf(run: string): Promise<string[]> {
  const list = await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${run}` });
  return list.items.map((e) => `${e.type}/${e.reason}`);
}

describe('the operator against a real kube-apiserver and etcd', { timeout: 600_000 }, () => {
  before(async () => {
    ({ kube, core, custom } = await startKubeWithTrainingRuns());
    operator = await startOperator({
      ...operatorOptions(kube, progress),
      httpPort: 0,
      httpHost: '127.0.0.1',
      forceDeleteAfterSeconds: 2
    });
    await operator.leading;
  });

  after(async () => {
    await operator?.stop();
    await kube?.stop();
  });

  it('the API server refuses invalid TrainingRuns and names the field', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [runBody('bad-classes', { model: { numClasses: 1 } }), /spec\.model\.numClasses/],
      [
        runBody('bad-dataset', { dataset: { uri: 's3://a/b', ingest: { source: 's3://raw/x', into: 's3://a/c' } } }),
        /spec\.dataset.*set exactly one of dataset\.uri/
      ],
      [
        runBody('bad-warmup', { hyperparameters: { epochs: 1, warmupEpochs: 1 } }),
        /spec\.hyperparameters\.warmupEpochs/
      ],
      [runBody('x'.repeat(43)), /metadata\.name must be at most 42/],
      [
        runBody('bad-gpu', { workers: { replicas: 1, image: 'x', resources: { limits: { 'nvidia.com/gpu': 2 } } } }),
        /spec\.workers\.resources\.limits.*workers\.gpu/
      ],
      [
        runBody('bad-cache', { workers: { replicas: 1, image: 'x', cacheSizeLimit: '10 GB' } }),
        /spec\.workers\.cacheSizeLimit/
      ],
      [
        runBody('bad-grace', { runPolicy: { terminationGracePeriodSeconds: 0 } }),
        /spec\.runPolicy\.terminationGracePeriodSeconds/
      ],
      [
        runBody('bad-coordinator', { coordinator: { tolerations: [{ key: 'x', effect: 'Never' }] } }),
        /spec\.coordinator\.tolerations\[0\]\.effect/
      ]
    ];
    for (const [body, expected] of cases) {
      const error = await createRun(body).then(
        () => undefined,
        (e: unknown) => e
      );
      assert.ok(error, `${String((body.metadata as { name: string }).name)} was accepted`);
      assert.equal(statusCodeOf(error), 422);
      assert.match(String((error as { body?: unknown }).body), expected);
    }
  });

  it("takes the pod template fields through the CRD's schema to both roles' pods, and refuses what the operator owns at admission", async () => {
    // The Priority admission plugin refuses a pod naming a PriorityClass that does not exist.
    await kube.kubeConfig
      .makeApiClient(SchedulingV1Api)
      .createPriorityClass({ body: { metadata: { name: 'training-high' }, value: 1000 } });
    const template = {
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchExpressions: [{ key: 'pool', operator: 'In', values: ['train'] }] }]
          }
        }
      },
      topologySpreadConstraints: [
        { maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway' }
      ],
      priorityClassName: 'training-high',
      schedulerName: 'default-scheduler',
      serviceAccountName: 'trainer',
      imagePullSecrets: [{ name: 'registry' }],
      volumes: [{ name: 'weights', persistentVolumeClaim: { claimName: 'resnet-weights', readOnly: true } }],
      volumeMounts: [{ name: 'weights', mountPath: '/weights', readOnly: true }],
      labels: { team: 'vision' },
      annotations: { 'example.com/cost-center': '42' },
      envFrom: [{ configMapRef: { name: 'settings', optional: true } }]
    };
    await createRun(
      runBody(
        'templated',
        { coordinator: { ...template, env: [{ name: 'RINGTRAIN_LOG_LEVEL', value: 'debug' }] } },
        { replicas: 1, image: 'ringtrain:test', ...template }
      )
    );
    const pods = await eventually('2 pods', async () => {
      const list = await podsOf('templated');
      return list.length === 2 ? list : undefined;
    });
    // The client's model classes, as the JSON the API server sent.
    const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value)) as unknown;
    for (const pod of pods) {
      assert.deepEqual(plain(pod.spec?.affinity), template.affinity);
      assert.deepEqual(plain(pod.spec?.topologySpreadConstraints), template.topologySpreadConstraints);
      assert.equal(pod.spec?.priorityClassName, 'training-high');
      assert.equal(pod.spec?.priority, 1000, 'the Priority admission plugin resolved the class');
      assert.equal(pod.spec?.serviceAccountName, 'trainer');
      assert.deepEqual(plain(pod.spec?.imagePullSecrets), [{ name: 'registry' }]);
      assert.deepEqual(plain(pod.spec?.volumes?.at(-1)), template.volumes[0]);
      assert.deepEqual(plain(pod.spec?.containers[0]?.volumeMounts?.at(-1)), template.volumeMounts[0]);
      assert.equal(pod.metadata?.labels?.team, 'vision');
      assert.equal(pod.metadata?.annotations?.['example.com/cost-center'], '42');
      assert.deepEqual(plain(pod.spec?.containers[0]?.envFrom), template.envFrom);
      assert.equal(pod.spec?.containers[0]?.securityContext?.readOnlyRootFilesystem, true);
      assert.equal(pod.spec?.automountServiceAccountToken, false);
    }
    const refused: Array<[string, Record<string, unknown>, RegExp]> = [
      [
        'tpl-host-path',
        { volumes: [{ name: 'node', hostPath: { path: '/' } }] },
        /spec\.workers\.volumes.*exactly one of persistentVolumeClaim/
      ],
      [
        'tpl-cache-mount',
        {
          volumes: [{ name: 'weights', persistentVolumeClaim: { claimName: 'w' } }],
          volumeMounts: [{ name: 'weights', mountPath: '/cache' }]
        },
        /spec\.workers\.volumeMounts.*may not mount at or beneath/
      ],
      [
        'tpl-reserved-volume',
        { volumes: [{ name: 'run-config', emptyDir: {} }] },
        /spec\.workers\.volumes.*may not be named/
      ],
      [
        'tpl-duplicate-volume',
        {
          volumes: [
            { name: 'a', emptyDir: {} },
            { name: 'a', emptyDir: {} }
          ]
        },
        /spec\.workers\.volumes\[1\].*Duplicate value/
      ],
      ['tpl-run-label', { labels: { 'ringtrain.dev/run': 'other' } }, /spec\.workers\.labels.*may not set/],
      [
        'tpl-bad-affinity',
        {
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'Near' }] }]
              }
            }
          }
        },
        /spec\.workers\.affinity\.nodeAffinity\.requiredDuringSchedulingIgnoredDuringExecution\.nodeSelectorTerms\[0\]\.matchExpressions\[0\]\.operator/
      ],
      ['tpl-bad-priority', { priorityClassName: 'High Priority' }, /spec\.workers\.priorityClassName/]
    ];
    for (const [name, fields, expected] of refused) {
      const error = await createRun(runBody(name, {}, { replicas: 1, image: 'x', ...fields })).then(
        () => undefined,
        (e: unknown) => e
      );
      assert.ok(error, `${name} was accepted`);
      assert.equal(statusCodeOf(error), 422, name);
      assert.match(String((error as { body?: unknown }).body), expected, name);
    }
  });

  it('the API server accepts every example in deploy/examples (server-side dry run)', async () => {
    const dir = new URL('../../../../deploy/examples/', import.meta.url);
    for (const file of (await readdir(dir)).filter((f) => f.endsWith('.yaml'))) {
      const body = parse(await readFile(new URL(file, dir), 'utf8')) as Record<string, unknown>;
      await custom.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace,
        plural: PLURAL,
        body,
        dryRun: 'All'
      });
    }
  });

  it('the API server applies the schema defaults', async () => {
    const created = await createRun(runBody('defaults', { runPolicy: { suspend: true } }));
    const spec = created.spec as {
      workers: { gpu: unknown; cacheSizeLimit: string };
      coordinator: unknown;
      hyperparameters: { epochs: number };
      runPolicy: { backoffLimit: number; cleanPodPolicy: string; terminationGracePeriodSeconds: number };
    };
    // No resourceName: the operator's --default-gpu-resource names the GPU (nvidia.com/gpu here; see the gang's pods).
    assert.deepEqual(spec.workers.gpu, { count: 1 });
    assert.equal(spec.hyperparameters.epochs, 10);
    assert.equal(spec.runPolicy.backoffLimit, 3);
    assert.equal(spec.runPolicy.cleanPodPolicy, 'All');
    assert.equal(spec.runPolicy.terminationGracePeriodSeconds, 120);
    assert.equal(spec.workers.cacheSizeLimit, '10Gi');
    assert.deepEqual(spec.coordinator, {
      resources: { requests: { cpu: '250m', memory: '512Mi' }, limits: { cpu: '2', memory: '2Gi' } }
    });
  });

  it('creates the Secret, Services and pods with owner references, rank env and ports; status follows pod phases', async () => {
    const created = await createRun(runBody('gang', { runPolicy: { cleanPodPolicy: 'All' } }));
    const uid = created.metadata?.uid;
    const pending = await eventually(
      'phase Pending, attempt 1',
      runStatus('gang', (s) => s.phase === 'Pending' && s.attempt === 1)
    );
    assert.equal(pending.workers, '0/2');
    const pods = await eventually('3 pods', async () => {
      const list = await podsOf('gang');
      return list.length === 3 ? list : undefined;
    });
    for (const pod of pods) {
      assert.deepEqual(
        pod.metadata?.ownerReferences?.map((o) => [o.kind, o.name, o.uid, o.controller]),
        [['TrainingRun', 'gang', uid, true]]
      );
      assert.equal(pod.spec?.securityContext?.runAsNonRoot, true);
      assert.equal(pod.spec?.containers[0]?.securityContext?.readOnlyRootFilesystem, true);
    }
    const worker1 = pods.find((p) => p.metadata?.name === 'gang-worker-1');
    const env = Object.fromEntries((worker1?.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value]));
    assert.equal(env.RINGTRAIN_RANK, '1');
    assert.equal(env.RINGTRAIN_WORLD_SIZE, '2');
    assert.equal(worker1?.spec?.subdomain, 'gang-workers');
    // The GPU, and ephemeral storage for the default 10Gi /cache plus scratch: the API server takes both.
    assert.deepEqual(worker1?.spec?.containers[0]?.resources?.limits, {
      'nvidia.com/gpu': '1',
      'ephemeral-storage': '11Gi'
    });
    const services = (await core.listNamespacedService({ namespace, labelSelector: 'ringtrain.dev/run=gang' })).items;
    assert.deepEqual(services.map((s) => s.metadata?.name).sort(), ['gang-coordinator', 'gang-workers']);
    assert.deepEqual(
      services.find((s) => s.metadata?.name === 'gang-coordinator')?.spec?.ports?.map((p) => p.port),
      [50051, 8080]
    );
    const configMap = await core.readNamespacedConfigMap({ namespace, name: 'gang-config' });
    assert.equal((JSON.parse(configMap.data?.['run.json'] ?? '{}') as { workers?: number }).workers, 2);
    const secret = await core.readNamespacedSecret({ namespace, name: 'gang-token' });
    assert.equal(secret.metadata?.ownerReferences?.[0]?.uid, uid);
    // The run's identity: the token and, issued only for the plan that makes the Secret, its CA and certificate.
    assert.deepEqual(Object.keys(secret.data ?? {}).sort(), ['ca.crt', 'tls.crt', 'tls.key', 'token']);
    assert.match(Buffer.from(secret.data?.['tls.crt'] ?? '', 'base64').toString(), /^-----BEGIN CERTIFICATE-----/);
    // The run's NetworkPolicy: over its pods, owned by it (the garbage collector deletes it with the run).
    const policy = await kube.kubeConfig
      .makeApiClient(NetworkingV1Api)
      .readNamespacedNetworkPolicy({ namespace, name: 'gang-network-policy' });
    assert.deepEqual(
      policy.metadata?.ownerReferences?.map((o) => [o.kind, o.name, o.uid, o.controller]),
      [['TrainingRun', 'gang', uid, true]]
    );
    const thisRun = { 'ringtrain.dev/run': 'gang', 'ringtrain.dev/run-uid': uid };
    assert.deepEqual(policy.spec?.podSelector?.matchLabels, thisRun);
    assert.deepEqual(policy.spec?.policyTypes, ['Ingress', 'Egress']);
    assert.deepEqual(
      policy.spec?.ingress?.[0]?._from?.map((peer) => ({ ...peer.podSelector?.matchLabels })),
      [thisRun],
      'the run’s own pods, as the API server stored it'
    );
    assert.deepEqual(
      policy.spec?.ingress?.[0]?.ports?.map((p) => p.port),
      ['collective', 'grpc', 'http']
    );
    assert.ok(Buffer.from(secret.data?.token ?? '', 'base64').length >= 32);

    const plan = {
      summary:
        '3 classes; 96 training and 24 validation images; 2 workers × 16 images = global batch 32; 3 iterations per epoch × 3 epochs = 9 iterations; Adam at learning rate 0.001 (constant)',
      classes: 3,
      trainImages: 96,
      valImages: 24,
      globalBatch: 32,
      iterationsPerEpoch: 3,
      totalIterations: 9
    };
    progress.set('gang', { progress: { epoch: 1, step: 42, loss: 1.25, accuracy: 0.5, imagesPerSecond: 321 }, plan });
    await runGang('gang', 2);
    const running = await eventually(
      'phase Running with 2/2 workers and progress',
      runStatus('gang', (s) => s.phase === 'Running' && s.workers === '2/2' && s.step === 42)
    );
    assert.equal(running.epoch, 1);
    assert.equal(running.loss, 1.25);
    assert.equal(running.conditions?.find((c) => c.type === 'Running')?.status, 'True');
    assert.deepEqual(running.plan, plan, 'the run plan in the status');

    // A training step changes nothing in the cluster: the status follows through polling alone.
    progress.set('gang', { progress: { epoch: 2, step: 99, loss: 0.75, accuracy: 0.8, imagesPerSecond: 330 }, plan });
    await eventually(
      'progress polled without a cluster event',
      runStatus('gang', (s) => s.step === 99 && s.epoch === 2)
    );

    // A worker killed by a signal: the whole gang restarts as attempt 2.
    await setPodPhase('gang-worker-1', 'Failed', { exitCode: 137 });
    const restarting = await eventually(
      'a gang restart',
      runStatus('gang', (s) => s.attempt === 2)
    );
    assert.equal(restarting.restarts, 1);
    assert.equal(restarting.lastFailure?.pod, 'gang-worker-1');
    assert.equal(restarting.lastFailure?.exitCode, 137);
    assert.equal(restarting.lastFailure?.reason, 'Signal');
    await eventually('the pods of attempt 2', async () => {
      const list = await podsOf('gang');
      return list.length === 3 && list.every((p) => p.metadata?.labels?.['ringtrain.dev/attempt'] === '2')
        ? true
        : undefined;
    });
    await runGang('gang', 2);
    await eventually(
      'Running again',
      runStatus('gang', (s) => s.phase === 'Running' && s.attempt === 2)
    );

    // The coordinator exits 0: Succeeded, and cleanPodPolicy All removes the pods.
    await setPodPhase('gang-coordinator', 'Succeeded');
    const done = await eventually(
      'phase Succeeded',
      runStatus('gang', (s) => s.phase === 'Succeeded')
    );
    assert.equal(done.modelUri, 's3://runs/gang/model');
    assert.ok(done.completionTime);
    await eventually('pods cleaned up', async () => ((await podsOf('gang')).length === 0 ? true : undefined));
    // The status follows the pods' deletion a reconcile later (the next test reads its printer columns).
    await eventually(
      'no ready workers in the status',
      runStatus('gang', (s) => s.workers === '0/2')
    );
    const events = await eventsOf('gang');
    for (const reason of [
      'Normal/Started',
      'Normal/Planned',
      'Normal/Running',
      'Warning/GangRestart',
      'Normal/Succeeded'
    ])
      assert.ok(events.includes(reason), `${reason} not in ${events.join(', ')}`);
    assert.equal(
      events.filter((reason) => reason === 'Normal/Planned').length,
      1,
      'the plan is told once, not at every poll or attempt'
    );
  });

  it('shows Phase, Workers (pods), Ranks, Epoch, Loss, Accuracy and Age in `kubectl get tr`', async () => {
    // What kubectl asks for: the server-side Table built from the CRD's printer columns.
    const options: https.RequestOptions = { headers: { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' } };
    await kube.kubeConfig.applyToHTTPSOptions(options);
    const table = await new Promise<{ columnDefinitions: Array<{ name: string }>; rows: Array<{ cells: unknown[] }> }>(
      (resolve, reject) => {
        https
          .get(
            `${kube.server}/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}/gang`,
            options,
            (response) => {
              let text = '';
              response.on('data', (chunk: Buffer) => (text += chunk.toString()));
              response.on('end', () =>
                resolve(
                  JSON.parse(text) as { columnDefinitions: Array<{ name: string }>; rows: Array<{ cells: unknown[] }> }
                )
              );
            }
          )
          .on('error', reject);
      }
    );
    assert.deepEqual(
      table.columnDefinitions.map((c) => c.name),
      ['Name', 'Phase', 'Workers', 'Ranks', 'Epoch', 'Loss', 'Accuracy', 'Age']
    );
    // 2 pods of one rank each (one GPU each, the default): a ring of 2.
    assert.deepEqual(table.rows[0]?.cells.slice(0, 7), ['gang', 'Succeeded', '0/2', 2, 2, 0.75, 0.8]);
  });

  it('refuses changes to the model once the run has started', async () => {
    const error = await patchRunSpec('gang', { model: { numClasses: 7 } }).then(
      () => undefined,
      (e: unknown) => e
    );
    assert.equal(statusCodeOf(error), 422);
    assert.match(String((error as { body?: unknown }).body), /immutable once the run has started/);
  });

  it('suspend deletes the pods and keeps the run; resume starts a new attempt', async () => {
    await createRun(runBody('pausable'));
    await runGang('pausable', 2);
    await eventually(
      'Running',
      runStatus('pausable', (s) => s.phase === 'Running')
    );
    await patchRunSpec('pausable', { runPolicy: { suspend: true } });
    await eventually(
      'Suspended',
      runStatus('pausable', (s) => s.phase === 'Suspended')
    );
    await eventually('no pods while suspended', async () =>
      (await podsOf('pausable')).length === 0 ? true : undefined
    );
    const suspendedSince = (await getRun('pausable')).status?.startTime;
    await sleep(1100);
    await patchRunSpec('pausable', { runPolicy: { suspend: false } });
    const resumed = await eventually(
      'resumed as attempt 2',
      runStatus('pausable', (s) => s.attempt === 2 && s.phase !== 'Suspended')
    );
    assert.ok(
      Date.parse(resumed.startTime ?? '') > Date.parse(suspendedSince ?? ''),
      'activeDeadlineSeconds counts from the resume'
    );
    await eventually('pods of attempt 2', async () => ((await podsOf('pausable')).length === 3 ? true : undefined));
  });

  it('fails a run at activeDeadlineSeconds through a requeue timer, then deletes it at ttlSecondsAfterFinished', async () => {
    await createRun(runBody('deadline', { runPolicy: { activeDeadlineSeconds: 3, ttlSecondsAfterFinished: 2 } }));
    const failed = await eventually(
      'Failed by the deadline',
      runStatus('deadline', (s) => s.phase === 'Failed'),
      { timeoutMs: 20_000 }
    );
    assert.equal(failed.conditions?.find((c) => c.type === 'Failed')?.reason, 'DeadlineExceeded');
    await eventually(
      'the run deleted by its TTL',
      async () =>
        getRun('deadline').then(
          () => undefined,
          (e: unknown) => (statusCodeOf(e) === 404 ? true : undefined)
        ),
      { timeoutMs: 20_000 }
    );
  });

  it('says a gang waits for nodes (condition Unschedulable, one event), then fails it at scheduleTimeoutSeconds', async () => {
    await createRun(runBody('no-gpu', { runPolicy: { scheduleTimeoutSeconds: 4 } }));
    await eventually('the pods of no-gpu', async () => ((await podsOf('no-gpu')).length === 3 ? true : undefined));
    // What kube-scheduler writes when no node has a free GPU (this test server runs no scheduler).
    const said = '0/3 nodes are available: 3 Insufficient nvidia.com/gpu.';
    await core.patchNamespacedPodStatus(
      {
        namespace,
        name: 'no-gpu-worker-1',
        body: {
          status: {
            conditions: [
              {
                type: 'PodScheduled',
                status: 'False',
                reason: 'Unschedulable',
                message: said,
                lastTransitionTime: new Date().toISOString()
              }
            ]
          }
        }
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch)
    );
    const waiting = await eventually(
      'condition Unschedulable',
      runStatus('no-gpu', (s) => conditionIs(s.conditions, 'Unschedulable'))
    );
    const condition = waiting.conditions?.find((c) => c.type === 'Unschedulable');
    assert.equal(condition?.reason, 'InsufficientResources');
    assert.ok(condition?.message.includes(`pod no-gpu-worker-1 cannot be scheduled: ${said}`), condition?.message);
    const failed = await eventually(
      'Failed at scheduleTimeoutSeconds, through a requeue timer',
      runStatus('no-gpu', (s) => s.phase === 'Failed'),
      { timeoutMs: 20_000 }
    );
    assert.equal(failed.conditions?.find((c) => c.type === 'Failed')?.reason, 'SchedulingTimeout');
    const told = await eventsOf('no-gpu');
    assert.equal(told.filter((e) => e === 'Warning/Unschedulable').length, 1, told.join(', '));
  });

  it('fails at once on OOMKilled without using the backoff budget', async () => {
    await createRun(runBody('oom'));
    await runGang('oom', 2);
    await setPodPhase('oom-worker-0', 'Failed', { exitCode: 137, reason: 'OOMKilled' });
    const failed = await eventually(
      'Failed',
      runStatus('oom', (s) => s.phase === 'Failed')
    );
    assert.equal(failed.lastFailure?.reason, 'OOMKilled');
    assert.equal(failed.lastFailure?.retryable, false);
    assert.equal(failed.attempt, 1);
  });

  it('restarts the gang when a pod on a lost node is deleted, force-deleting it once stuck Terminating', async () => {
    await createRun(runBody('drained'));
    await runGang('drained', 2);
    await eventually(
      'Running',
      runStatus('drained', (s) => s.phase === 'Running')
    );
    // Bound to a node whose kubelet never answers, a deleted pod stays Terminating until someone forces it.
    await core.createNamespacedPodBinding({
      namespace,
      name: 'drained-worker-0',
      body: {
        apiVersion: 'v1',
        kind: 'Binding',
        metadata: { name: 'drained-worker-0' },
        target: { apiVersion: 'v1', kind: 'Node', name: 'lost-node' }
      }
    });
    await core.deleteNamespacedPod({ namespace, name: 'drained-worker-0', gracePeriodSeconds: 1 });
    const restarted = await eventually(
      'a gang restart',
      runStatus('drained', (s) => s.attempt === 2)
    );
    assert.equal(restarted.lastFailure?.pod, 'drained-worker-0');
    assert.equal(restarted.lastFailure?.reason, 'Evicted');
    assert.equal(restarted.restarts ?? 0, 0, 'a disruption is not counted against backoffLimit');
    await eventually('attempt 2 pods, after the stuck pod was force-deleted', async () => {
      const list = await core.listNamespacedPod({ namespace, labelSelector: 'ringtrain.dev/run=drained' });
      return list.items.length === 3 && list.items.every((p) => p.metadata?.labels?.['ringtrain.dev/attempt'] === '2')
        ? true
        : undefined;
    });
    assert.ok((await eventsOf('drained')).includes('Warning/ForceDeleted'));
  });

  it("replaces a worker the coordinator's watchdog declared hung, though its pod stays Running: a counted gang restart, reason Hung, within a poll", async () => {
    await createRun(runBody('hung'));
    await runGang('hung', 2);
    await eventually(
      'Running',
      runStatus('hung', (s) => s.phase === 'Running')
    );
    const declared = Date.now();
    progress.set('hung', {
      hung: [
        {
          workerId: 'hung-worker-1',
          rank: 1,
          since: new Date(declared - 60_000).toISOString(),
          reason: 'worker hung-worker-1 (rank 1) sent no heartbeat for 60.1 s: hung or unreachable'
        }
      ]
    });
    const restarted = await eventually(
      'a gang restart',
      runStatus('hung', (s) => s.attempt === 2)
    );
    assert.ok(
      Date.now() - declared < 10_000,
      `restarted ${Date.now() - declared} ms after the verdict, with /status polled every second`
    );
    assert.equal(restarted.lastFailure?.pod, 'hung-worker-1');
    assert.equal(restarted.lastFailure?.reason, 'Hung');
    assert.equal(restarted.restarts, 1, 'counted against backoffLimit');
    assert.ok((await eventsOf('hung')).includes('Warning/GangRestart'));
    // The next attempt runs while the old verdict is still served (the old coordinator read as it terminates): no second restart.
    await eventually('attempt 2 pods', async () =>
      (await podsOf('hung')).every((p) => p.metadata?.labels?.['ringtrain.dev/attempt'] === '2') ? true : undefined
    );
    await runGang('hung', 2);
    await eventually(
      'attempt 2 Running',
      runStatus('hung', (s) => s.phase === 'Running')
    );
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    assert.equal((await getRun('hung')).status?.attempt, 2);
    progress.delete('hung');
  });

  it('serves /healthz, /readyz and /metrics', async () => {
    const base = `http://127.0.0.1:${operator?.httpPort}`;
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /ringtrain_operator_leader 1/);
    assert.match(metrics, /ringtrain_operator_reconciles_total\{result="ok"\} \d+/);
    assert.match(metrics, /ringtrain_operator_gang_restarts_total\{reason="Signal"\} 1/);
  });

  it('lists again after 410 Gone when its resourceVersion is too old', async () => {
    const api = new KubeApi(kube.kubeConfig);
    const reasons: string[] = [];
    let stale = true;
    const informer = new Informer<RawRun>({
      resource: 'trainingruns',
      // The first list claims a long-compacted resourceVersion, as after a long disconnection.
      list: async () => {
        const list = await api.listRuns(namespace);
        if (!stale) return list;
        stale = false;
        return { items: list.items, resourceVersion: '1' };
      },
      watchPath: api.runsPath(namespace),
      watch: api.watch,
      onChange: () => undefined,
      onRelist: (reason) => reasons.push(reason),
      logger
    });
    await informer.start();
    try {
      await eventually('a relist after 410 Gone', async () => (reasons.includes('410 Gone') ? true : undefined), {
        timeoutMs: 15_000
      });
      await createRun(runBody('after-relist', { runPolicy: { suspend: true } }));
      await eventually('the watch to deliver a new run after the relist', async () =>
        informer.get(`${namespace}/after-relist`) ? true : undefined
      );
    } finally {
      informer.stop();
    }
  });

  it('`ringtrain operator` serves until SIGTERM, then releases its lease and exits 0', async () => {
    await core.createNamespace({ body: { metadata: { name: 'cli-test' } } });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-operator-cli-'));
    const kubeconfig = path.join(dir, 'kubeconfig');
    await writeFile(kubeconfig, kube.kubeConfig.exportConfig());
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = server.address() as { port: number };
        server.close(() => resolve(free));
      });
    });
    const command = fileURLToPath(new URL('../cli-command.ts', import.meta.url));
    const script = `import { runOperatorCommand } from ${JSON.stringify(command)}; await runOperatorCommand({ namespace: 'cli-test', httpPort: '${port}' });`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      env: { ...process.env, KUBECONFIG: kubeconfig, RINGTRAIN_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'pipe']
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const leases = kube.kubeConfig.makeApiClient(CoordinationV1Api);
    try {
      await eventually('the CLI operator to lead and be ready', async () => {
        const lease = await leases.readNamespacedLease({ namespace: 'cli-test', name: 'ringtrain-operator' });
        const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
        return lease.spec?.holderIdentity && ready.status === 200 ? true : undefined;
      });
      child.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);
      const lease = await leases.readNamespacedLease({ namespace: 'cli-test', name: 'ringtrain-operator' });
      assert.equal(lease.spec?.holderIdentity ?? '', '', 'the lease is released for a standby');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('an operator whose service account may not list TrainingRuns says which RBAC is missing', async () => {
    // A real service-account token, signed with the test server's key: only Lease rights, nothing else.
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'lease-only' } } });
    const rbac = kube.kubeConfig.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace,
      body: {
        metadata: { name: 'lease-only' },
        rules: [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] }]
      }
    });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: 'lease-only' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'lease-only' },
        subjects: [{ kind: 'ServiceAccount', name: 'lease-only', namespace }]
      }
    });
    const request = await core.createNamespacedServiceAccountToken({
      namespace,
      name: 'lease-only',
      body: { spec: { audiences: [], expirationSeconds: 600 } }
    });
    const limited = new KubeConfig();
    limited.loadFromOptions({
      clusters: [{ name: 'test', server: kube.server, skipTLSVerify: true }],
      users: [{ name: 'lease-only', token: request.status?.token ?? '' }],
      contexts: [{ name: 'test', cluster: 'test', user: 'lease-only', namespace }],
      currentContext: 'test'
    });
    let lost: Error | undefined;
    const limitedOperator = await startOperator({
      kubeConfig: limited,
      namespace,
      leaseName: 'lease-only',
      httpPort: null,
      retryPeriodSeconds: 1,
      logger,
      processMetrics: false,
      onLostLeadership: (reason) => (lost = reason)
    });
    try {
      await assert.rejects(limitedOperator.leading, /HTTP 403.*lacks RBAC.*docs\/operator\.md/);
      assert.match(lost?.message ?? '', /HTTP 403/);
    } finally {
      await limitedOperator.stop();
    }
  });

  it('a second operator waits as standby and takes over when the leader stops', async () => {
    const standby = await startOperator({
      ...operatorOptions(kube, new Map()),
      pollProgressSeconds: undefined
    });
    try {
      await sleep(2500);
      assert.equal(standby.isLeader(), false, 'two leaders at once');
      assert.equal(operator?.isLeader(), true);
      await operator?.stop();
      operator = undefined;
      await standby.leading;
      assert.equal(standby.isLeader(), true);
      // The new leader reconciles: a new run gets its pods.
      await createRun(runBody('after-failover'));
      await eventually('pods created by the new leader', async () =>
        (await podsOf('after-failover')).length === 3 ? true : undefined
      );
    } finally {
      await standby.stop();
    }
  });
});
