import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { RunConfigSchema } from '@ringtrain/protocol';
import { sampleRunInput } from '../api/sample-run.test-helper.js';
import { parseTrainingRun } from '../api/validate.js';
import { planReconcile, runsWorker, type Observed } from '../reconcile/plan.js';
import { observedPod } from '../reconcile/pod-fixtures.test-helper.js';
import {
  buildNetworkPolicy,
  buildWorkerPod,
  buildWorkersService,
  coordinatorRunConfig,
  workerCacheBytes
} from './templates.js';

/** 2 pods × 2 CPU ranks: what the e2e suite runs, and what `gpu.count: 2` lays out on GPUs. */
const runOf = (workers: Record<string, unknown>, status?: Record<string, unknown>) =>
  parseTrainingRun({
    ...sampleRunInput({ spec: { workers: { replicas: 2, image: 'ringtrain:test', ...workers } } }),
    ...(status ? { status } : {})
  });
const cpuPairs = runOf({ gpu: { count: 0 }, ranksPerPod: 2 });
const gpuPairs = runOf({ gpu: { count: 2 } });
const single = runOf({ gpu: { count: 0 } });

const envOf = (pod: V1Pod) =>
  Object.fromEntries((pod.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));
const portsOf = (pod: V1Pod) => (pod.spec?.containers[0]?.ports ?? []).map((p) => `${p.name}=${p.containerPort}`);

describe('worker pods of several ranks (spec.workers.ranksPerPod)', () => {
  it("tell each pod its first rank, the ring's size in ranks and its ranks per pod, for the launcher", () => {
    const second = envOf(buildWorkerPod(cpuPairs, 1, 1));
    assert.equal(second.RINGTRAIN_RANK, '2');
    assert.equal(second.RINGTRAIN_WORLD_SIZE, '4');
    assert.equal(second.RINGTRAIN_RANKS_PER_POD, '2');
    assert.equal(second.RINGTRAIN_COLLECTIVE_PORT, '50052');
    assert.equal(second.RINGTRAIN_ADVERTISE_HOST, 'worker-1.flowers-workers.default.svc');
    // One rank per pod stays as it was: no launcher.
    const alone = envOf(buildWorkerPod(single, 1, 1));
    assert.deepEqual(
      [alone.RINGTRAIN_RANK, alone.RINGTRAIN_WORLD_SIZE, alone.RINGTRAIN_RANKS_PER_POD],
      ['1', '2', undefined]
    );
  });

  it('declare one named collective port per local rank, and keep the pod name, hostname and label by pod index', () => {
    const pod = buildWorkerPod(cpuPairs, 1, 1);
    assert.deepEqual(portsOf(pod), ['collective=50052', 'collective-1=50053']);
    assert.equal(pod.metadata?.name, 'flowers-worker-1');
    assert.equal(pod.spec?.hostname, 'worker-1');
    assert.equal(pod.metadata?.labels?.['ringtrain.dev/rank'], '1');
    assert.deepEqual(portsOf(buildWorkerPod(single, 0, 1)), ['collective=50052']);
    assert.deepEqual(
      buildWorkersService(cpuPairs).spec?.ports?.map((p) => `${p.name}=${p.port}->${String(p.targetPort)}`),
      ['collective=50052->50052', 'collective-1=50053->50053']
    );
  });

  it('give a pod with G GPUs G ranks, all its GPUs, and the GPU check its count (the launcher gives each process one)', () => {
    const pod = buildWorkerPod(gpuPairs, 0, 1);
    assert.equal(pod.spec?.containers[0]?.resources?.limits?.['nvidia.com/gpu'], '2');
    const env = envOf(pod);
    assert.deepEqual(
      [env.RINGTRAIN_RANKS_PER_POD, env.RINGTRAIN_EXPECTED_GPUS, env.RINGTRAIN_WORLD_SIZE],
      ['2', '2', '4']
    );
    assert.deepEqual(portsOf(pod), ['collective=50052', 'collective-1=50053']);
  });

  it("let the run's pods reach every local rank's collective port, in and out, and nothing more", () => {
    const policy = buildNetworkPolicy(cpuPairs);
    const runPorts = (rule: { ports?: { port?: unknown }[] } | undefined) => rule?.ports?.map((p) => p.port);
    assert.deepEqual(runPorts(policy.spec?.ingress?.[0]), ['collective', 'collective-1', 'grpc', 'http']);
    assert.deepEqual(runPorts(policy.spec?.egress?.[0]), ['collective', 'collective-1', 'grpc', 'http']);
    assert.deepEqual(runPorts(buildNetworkPolicy(single).spec?.ingress?.[0]), ['collective', 'grpc', 'http']);
  });

  it("with collectiveStripes K, declare and open each local rank's further stripes at its port + k·256, where the worker listens", () => {
    const striped = parseTrainingRun(
      sampleRunInput({
        spec: {
          workers: { replicas: 2, image: 'ringtrain:test', gpu: { count: 0 }, ranksPerPod: 2 },
          hyperparameters: { collectiveStripes: 3 }
        }
      })
    );
    const expected = [
      'collective=50052',
      'stripe-0-1=50308',
      'stripe-0-2=50564',
      'collective-1=50053',
      'stripe-1-1=50309',
      'stripe-1-2=50565'
    ];
    assert.deepEqual(portsOf(buildWorkerPod(striped, 1, 1)), expected);
    assert.deepEqual(
      buildWorkersService(striped).spec?.ports?.map((p) => `${p.name}=${p.port}`),
      expected
    );
    const policy = buildNetworkPolicy(striped);
    const names = expected.map((port) => port.split('=')[0]);
    for (const rule of [policy.spec?.ingress?.[0], policy.spec?.egress?.[0]])
      assert.deepEqual(
        rule?.ports?.map((p) => p.port),
        [...names, 'grpc', 'http']
      );
    assert.equal(RunConfigSchema.parse(coordinatorRunConfig(striped)).collectiveStripes, 3);
  });

  it('hand the coordinator the ring in ranks: world size, partitions, ranks per pod, and a per-rank share of /cache', () => {
    const config = RunConfigSchema.parse(coordinatorRunConfig(cpuPairs));
    assert.equal(config.workers, 4);
    assert.equal(config.partitions, 4);
    assert.equal(config.ranksPerPod, 2);
    assert.equal(config.cacheBytes, Math.floor(workerCacheBytes(cpuPairs) / 2));
    const alone = RunConfigSchema.parse(coordinatorRunConfig(single));
    assert.deepEqual([alone.workers, alone.ranksPerPod, alone.cacheBytes], [2, undefined, workerCacheBytes(single)]);
  });

  it('create one pod per replica, and count pods in status.workers and ranks in status.ranks', () => {
    const fresh: Observed = {
      pods: [],
      serviceNames: [],
      secretExists: false,
      configMapExists: false,
      networkPolicyExists: false
    };
    const plan = planReconcile(cpuPairs, fresh, new Date('2026-12-06T12:00:00Z'), { token: 'x'.repeat(24) });
    const pods = plan.actions.flatMap((a) =>
      a.kind === 'create' && a.object.kind === 'Pod' ? [a.object.metadata?.name] : []
    );
    assert.deepEqual(pods, ['flowers-coordinator', 'flowers-worker-0', 'flowers-worker-1']);
    assert.equal(plan.status?.workers, '0/2');
    assert.equal(plan.status?.ranks, 4);
    assert.equal(plan.events.find((e) => e.reason === 'Started')?.message, 'attempt 1 of 2 worker pods × 2 ranks');
  });

  it("restart the gang when one process of a pod hangs, naming the pod to replace and the hung process's rank", () => {
    const start = new Date('2026-12-06T12:00:00Z');
    const at = (s: number) => new Date(start.getTime() + s * 1000);
    const running = runOf(
      { gpu: { count: 0 }, ranksPerPod: 2 },
      {
        phase: 'Running',
        attempt: 1,
        restarts: 0,
        startTime: start.toISOString(),
        lastProgressTime: start.toISOString()
      }
    );
    const labels = (role: string, rank?: number) => ({
      'ringtrain.dev/run': 'flowers',
      'ringtrain.dev/role': role,
      'ringtrain.dev/attempt': '1',
      ...(rank !== undefined ? { 'ringtrain.dev/rank': String(rank) } : {})
    });
    const up = { phase: 'Running', ready: true } as const;
    const observed: Observed = {
      pods: [
        observedPod('flowers-coordinator', labels('coordinator'), up),
        observedPod('flowers-worker-0', labels('worker', 0), up),
        observedPod('flowers-worker-1', labels('worker', 1), up)
      ],
      serviceNames: ['flowers-coordinator', 'flowers-workers'],
      secretExists: true,
      configMapExists: true,
      networkPolicyExists: true,
      hung: [{ workerId: 'flowers-worker-1-1', rank: 3, since: at(30).toISOString(), reason: 'no heartbeat' }]
    };
    const plan = planReconcile(running, observed, at(95), { token: 'x'.repeat(24), pollProgressSeconds: 0 });
    assert.equal(plan.status?.phase, 'Restarting');
    assert.equal(plan.status?.lastFailure?.pod, 'flowers-worker-1');
    assert.equal(plan.status?.lastFailure?.rank, 3);
    assert.ok(plan.actions.some((a) => a.kind === 'delete-pod' && a.name === 'flowers-worker-1' && a.force));
  });

  it("find a process's pod by its worker id, never a pod whose name only starts the same", () => {
    assert.equal(runsWorker('flowers-worker-1', 'flowers-worker-1'), true);
    assert.equal(runsWorker('flowers-worker-1', 'flowers-worker-1-0'), true);
    assert.equal(runsWorker('flowers-worker-1', 'flowers-worker-10'), false);
    assert.equal(runsWorker('flowers-worker-1', 'flowers-worker-10-1'), false);
    assert.equal(runsWorker('flowers-worker-1', 'flowers-worker-1-x'), false);
  });
});
