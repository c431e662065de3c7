import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1NetworkPolicy, V1Pod } from '@kubernetes/client-node';
import type { TrainingRunStatus } from '../api/status-schema.js';
import type { TrainingRun } from '../api/training-run.js';
import { parseTrainingRun } from '../api/validate.js';
import { sampleRunInput } from '../api/sample-run.test-helper.js';
import { planReconcile, type Action, type Observed, type Plan, type PlanOptions } from './plan.js';
import { observedPod } from './pod-fixtures.test-helper.js';

const T0 = new Date('2026-11-27T10:00:00Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
const token = 'test-token-0123456789abcdef';

function runWith(
  status?: TrainingRunStatus,
  runPolicy: Record<string, unknown> = {},
  extra: Record<string, unknown> = {}
): TrainingRun {
  const input = sampleRunInput({ spec: { runPolicy, ...extra } });
  return parseTrainingRun({ ...input, ...(status ? { status } : {}) });
}

const labels = (role: 'coordinator' | 'worker', attempt: number, rank?: number) => ({
  'ringtrain.dev/run': 'flowers',
  'ringtrain.dev/role': role,
  'ringtrain.dev/attempt': String(attempt),
  ...(rank !== undefined ? { 'ringtrain.dev/rank': String(rank) } : {})
});

/** The gang of attempt `attempt` (coordinator + 2 workers), each in the given state unless overridden. */
function gang(
  attempt: number,
  state: Parameters<typeof observedPod>[2],
  overrides: Record<string, Parameters<typeof observedPod>[2]> = {}
): V1Pod[] {
  return [
    observedPod('flowers-coordinator', labels('coordinator', attempt), overrides['flowers-coordinator'] ?? state),
    observedPod('flowers-worker-0', labels('worker', attempt, 0), overrides['flowers-worker-0'] ?? state),
    observedPod('flowers-worker-1', labels('worker', attempt, 1), overrides['flowers-worker-1'] ?? state)
  ];
}

const everything = (pods: V1Pod[], progress?: Observed['progress'], ingest?: Observed['ingest']): Observed => ({
  pods,
  serviceNames: ['flowers-coordinator', 'flowers-workers'],
  secretExists: true,
  configMapExists: true,
  networkPolicyExists: true,
  ...(progress ? { progress } : {}),
  ...(ingest ? { ingest } : {})
});

/** A new run: none of its children exists yet. */
const fresh: Observed = {
  pods: [],
  serviceNames: [],
  secretExists: false,
  configMapExists: false,
  networkPolicyExists: false
};

const created = (plan: Plan) =>
  plan.actions
    .filter((a): a is Extract<Action, { kind: 'create' }> => a.kind === 'create')
    .map((a) => `${a.object.kind}/${a.object.metadata?.name}`);
const deleted = (plan: Plan) =>
  plan.actions
    .filter((a): a is Extract<Action, { kind: 'delete-pod' }> => a.kind === 'delete-pod')
    .map((a) => (a.force ? `force:${a.name}` : a.name));
const events = (plan: Plan) => plan.events.map((e) => `${e.type}/${e.reason}`);
const condition = (plan: Plan, type: string) => plan.status?.conditions?.find((c) => c.type === type);

const running: TrainingRunStatus = {
  phase: 'Running',
  attempt: 1,
  restarts: 0,
  startTime: T0.toISOString(),
  lastProgressTime: T0.toISOString()
};

/** Where a plan leaves the run's attempts: its phase, which attempt, and how many restarts so far. */
function attemptOf(plan: ReturnType<typeof planReconcile>) {
  return { phase: plan.status?.phase, attempt: plan.status?.attempt, restarts: plan.status?.restarts };
}

/** The plan at `seconds` for the running run (attempt 1) whose whole gang is Running, without progress polling. */
function planRunningGangAt(seconds: number, runPolicy: Record<string, unknown> = {}) {
  return planReconcile(runWith(running, runPolicy), everything(gang(1, RUNNING)), at(seconds), {
    token,
    pollProgressSeconds: 0
  });
}
const RUNNING = { phase: 'Running', ready: true } as const;

describe('planReconcile', () => {
  it('starts a new run: attempt 1, the Secret, both Services, the coordinator and one pod per rank', () => {
    const plan = planReconcile(
      runWith(),
      { pods: [], serviceNames: [], secretExists: false, configMapExists: false, networkPolicyExists: false },
      T0,
      { token, pollProgressSeconds: 0 }
    );
    assert.deepEqual(created(plan), [
      'NetworkPolicy/flowers-network-policy',
      'Secret/flowers-token',
      'ConfigMap/flowers-config',
      'Service/flowers-coordinator',
      'Service/flowers-workers',
      'Pod/flowers-coordinator',
      'Pod/flowers-worker-0',
      'Pod/flowers-worker-1'
    ]);
    assert.equal(plan.status?.phase, 'Pending');
    assert.equal(plan.status?.attempt, 1);
    assert.equal(plan.status?.startTime, T0.toISOString());
    assert.equal(plan.status?.workers, '0/2');
    assert.equal(plan.status?.observedGeneration, 1);
    assert.deepEqual(events(plan), ['Normal/Started', 'Normal/Pending']);
    assert.equal(plan.requeueAfterSeconds, 3600, 'the default progress deadline bounds Pending');
  });

  const networkPolicyCases: Array<[string, Observed, PlanOptions['cluster'], string[]]> = [
    [
      'creates the per-run NetworkPolicy, before any pod, with the other children of a new run',
      fresh,
      undefined,
      ['NetworkPolicy/flowers-network-policy']
    ],
    [
      'creates the NetworkPolicy a running run lacks (one started before the operator made them)',
      { ...everything(gang(1, RUNNING)), networkPolicyExists: false },
      undefined,
      ['NetworkPolicy/flowers-network-policy']
    ],
    ['does not create a NetworkPolicy that exists', everything(gang(1, RUNNING)), undefined, []],
    ['creates no NetworkPolicy with --network-policies=false', fresh, { networkPolicies: false }, []]
  ];
  for (const [what, observed, cluster, policies] of networkPolicyCases) {
    it(what, () => {
      const plan = planReconcile(runWith(observed.pods.length > 0 ? running : undefined), observed, at(1), {
        token,
        pollProgressSeconds: 0,
        ...(cluster ? { cluster } : {})
      });
      assert.deepEqual(
        created(plan).filter((object) => object.startsWith('NetworkPolicy/')),
        policies
      );
      if (policies.length > 0) assert.equal(created(plan)[0], policies[0], 'the fence goes up before the pods');
    });
  }

  it('hands the cluster settings to the NetworkPolicy: the operator pods it lets read /status', () => {
    const operatorPods = { namespace: 'ringtrain-system', labels: { 'app.kubernetes.io/component': 'operator' } };
    const plan = planReconcile(runWith(), fresh, T0, { token, pollProgressSeconds: 0, cluster: { operatorPods } });
    const policy = plan.actions.find(
      (a): a is Extract<Action, { kind: 'create' }> => a.kind === 'create' && a.object.kind === 'NetworkPolicy'
    )?.object as V1NetworkPolicy | undefined;
    assert.deepEqual(policy?.spec?.ingress?.[1]?._from?.[0]?.podSelector?.matchLabels, operatorPods.labels);
  });

  const workerPods = (plan: Plan) =>
    plan.actions.flatMap((a) =>
      a.kind === 'create' && a.object.kind === 'Pod' && a.object.metadata?.labels?.['ringtrain.dev/role'] === 'worker'
        ? [a.object as V1Pod]
        : []
    );
  // Beside ephemeral-storage (the default cacheSizeLimit of 10Gi plus 1Gi of scratch), which every worker gets.
  const gpuLimits = (plan: Plan) =>
    workerPods(plan).map((pod) => {
      const { 'ephemeral-storage': disk, ...limits } = pod.spec?.containers[0]?.resources?.limits ?? {};
      assert.equal(disk, '11Gi');
      return limits;
    });
  const gpuCases: Array<[string, Record<string, unknown>, string | undefined, Record<string, string>]> = [
    [
      'nvidia.com/gpu when neither the run nor the cluster names a GPU resource',
      {},
      undefined,
      { 'nvidia.com/gpu': '1' }
    ],
    [
      "the cluster's GPU resource (--default-gpu-resource) when the run names none",
      {},
      'amd.com/gpu',
      { 'amd.com/gpu': '1' }
    ],
    [
      "the run's own spec.workers.gpu.resourceName over the cluster's",
      { resourceName: 'gpu.intel.com/i915', count: 2 },
      'amd.com/gpu',
      { 'gpu.intel.com/i915': '2' }
    ]
  ];
  for (const [what, gpu, defaultGpuResource, limits] of gpuCases) {
    it(`gives worker pods ${what}`, () => {
      const run = runWith(undefined, {}, { workers: { replicas: 2, image: 'ringtrain:test', gpu } });
      const plan = planReconcile(run, fresh, T0, {
        token,
        pollProgressSeconds: 0,
        ...(defaultGpuResource ? { cluster: { defaultGpuResource } } : {})
      });
      assert.deepEqual(gpuLimits(plan), [limits, limits]);
    });
  }

  it('is idempotent: with every child present it creates nothing and emits nothing new', () => {
    const plan = planReconcile(
      runWith({ ...running, phase: 'Pending' }),
      everything(gang(1, { phase: 'Pending' })),
      at(5),
      { token, pollProgressSeconds: 0 }
    );
    assert.deepEqual(plan.actions, []);
    assert.deepEqual(events(plan), []);
  });

  it("says which pod the kubelet cannot start and why (a missing Secret), as a Pending run's message", () => {
    const pods = gang(1, { phase: 'Pending' });
    pods[1]!.status = {
      ...pods[1]!.status,
      containerStatuses: [
        {
          name: 'worker',
          image: 'ringtrain:test',
          imageID: '',
          ready: false,
          restartCount: 0,
          state: { waiting: { reason: 'CreateContainerConfigError', message: 'secret "minio-creds" not found' } }
        }
      ]
    };
    const plan = planReconcile(runWith({ ...running, phase: 'Pending' }), everything(pods), at(5), {
      token,
      pollProgressSeconds: 0
    });
    assert.equal(plan.status?.phase, 'Pending');
    assert.equal(condition(plan, 'Running')?.reason, 'PodsStuck');
    assert.match(
      condition(plan, 'Running')?.message ?? '',
      /flowers-worker-0: CreateContainerConfigError: secret "minio-creds" not found/
    );
  });

  it('is Running with ready/desired workers once every pod of the gang runs', () => {
    const plan = planReconcile(runWith({ ...running, phase: 'Pending' }), everything(gang(1, RUNNING)), at(30), {
      token,
      pollProgressSeconds: 0
    });
    assert.equal(plan.status?.phase, 'Running');
    assert.equal(plan.status?.workers, '2/2');
    assert.equal(plan.status?.readyWorkers, 2);
    assert.equal(condition(plan, 'Running')?.status, 'True');
    assert.deepEqual(events(plan), ['Normal/Running']);
  });

  it('polls the coordinator for progress while it runs (a training step changes nothing in the cluster)', () => {
    const plan = planReconcile(runWith(running), everything(gang(1, RUNNING)), at(60), { token });
    assert.equal(plan.requeueAfterSeconds, 15);
    const pending = planReconcile(
      runWith({ ...running, phase: 'Pending' }),
      everything(gang(1, { phase: 'Pending' })),
      at(60),
      { token }
    );
    assert.ok((pending.requeueAfterSeconds ?? 0) > 15, 'no polling before the coordinator runs');
  });

  it("copies the coordinator's progress, and moves lastProgressTime only when the step moves", () => {
    const progress = {
      epoch: 2,
      step: 120,
      loss: 0.8,
      accuracy: 0.71,
      imagesPerSecond: 950,
      lastCheckpoint: { uri: 's3://runs/flowers/checkpoints/a', step: 100 }
    };
    const plan = planReconcile(runWith(running), everything(gang(1, RUNNING), progress), at(60), {
      token,
      pollProgressSeconds: 0
    });
    assert.equal(plan.status?.epoch, 2);
    assert.equal(plan.status?.step, 120);
    assert.equal(plan.status?.loss, 0.8);
    assert.equal(plan.status?.accuracy, 0.71);
    assert.equal(plan.status?.imagesPerSecond, 950);
    assert.deepEqual(plan.status?.lastCheckpoint, progress.lastCheckpoint);
    assert.equal(plan.status?.lastProgressTime, at(60).toISOString());
    const again = planReconcile(runWith(plan.status), everything(gang(1, RUNNING), progress), at(90), {
      token,
      pollProgressSeconds: 0
    });
    assert.equal(again.status?.lastProgressTime, at(60).toISOString());
  });

  it('takes the steps a resumed attempt redoes from its checkpoint, below the step the status shows, for progress', () => {
    const restarted: TrainingRunStatus = { ...running, attempt: 2, restarts: 1, step: 480, epoch: 4 };
    const redo = { epoch: 4, step: 401 };
    const plan = planReconcile(runWith(restarted), everything(gang(2, RUNNING), redo), at(60), {
      token,
      pollProgressSeconds: 0
    });
    assert.equal(plan.status?.step, 401);
    assert.equal(plan.status?.lastProgressTime, at(60).toISOString());
    const next = planReconcile(runWith(plan.status), everything(gang(2, RUNNING), { epoch: 4, step: 402 }), at(90), {
      token,
      pollProgressSeconds: 0
    });
    assert.equal(next.status?.lastProgressTime, at(90).toISOString());
  });

  it('restarts the whole gang as one numbered attempt when a worker is killed by a signal', () => {
    const plan = planReconcile(
      runWith(running),
      everything(gang(1, RUNNING, { 'flowers-worker-1': { phase: 'Failed', terminated: { exitCode: 137 } } })),
      at(100),
      { token, pollProgressSeconds: 0 }
    );
    assert.deepEqual(attemptOf(plan), { phase: 'Restarting', attempt: 2, restarts: 1 });
    assert.deepEqual(plan.status?.lastFailure, {
      pod: 'flowers-worker-1',
      rank: 1,
      exitCode: 137,
      reason: 'Signal',
      message: 'container worker killed by signal 9',
      retryable: true,
      countedAgainstBackoffLimit: true,
      time: at(100).toISOString()
    });
    assert.deepEqual(deleted(plan).sort(), ['flowers-coordinator', 'flowers-worker-0', 'flowers-worker-1']);
    assert.deepEqual(created(plan), [], 'the new attempt waits for the old pods to be gone');
    assert.deepEqual(events(plan), ['Warning/GangRestart']);
    assert.equal(condition(plan, 'Restarting')?.status, 'True');
    assert.equal(condition(plan, 'Restarting')?.reason, 'Signal');
  });

  it('creates the next attempt only once the old pods are gone, and stays Restarting until it runs', () => {
    const restarting: TrainingRunStatus = { ...running, phase: 'Restarting', attempt: 2, restarts: 1 };
    const terminating = gang(1, { phase: 'Running', deletionTimestamp: at(100) });
    const waiting = planReconcile(runWith(restarting), everything(terminating), at(110), {
      token,
      pollProgressSeconds: 0
    });
    assert.deepEqual(created(waiting), []);
    assert.equal(waiting.status?.phase, 'Restarting');
    const gone = planReconcile(runWith(restarting), everything([]), at(120), { token, pollProgressSeconds: 0 });
    assert.deepEqual(created(gone), ['Pod/flowers-coordinator', 'Pod/flowers-worker-0', 'Pod/flowers-worker-1']);
    const pod = gone.actions.find((a) => a.kind === 'create' && a.object.metadata?.name === 'flowers-worker-0');
    assert.equal(pod?.kind === 'create' ? pod.object.metadata?.labels?.['ringtrain.dev/attempt'] : undefined, '2');
    assert.equal(gone.status?.phase, 'Restarting');
    assert.deepEqual(events(gone), []);
    const back = planReconcile(runWith(gone.status), everything(gang(2, RUNNING)), at(150), {
      token,
      pollProgressSeconds: 0
    });
    assert.equal(back.status?.phase, 'Running');
    assert.equal(condition(back, 'Restarting')?.status, 'False');
  });

  it('deletes pods of an earlier attempt it finds beside the current one', () => {
    const plan = planReconcile(
      runWith({ ...running, phase: 'Restarting', attempt: 2 }),
      everything([...gang(2, RUNNING).slice(0, 2), observedPod('flowers-worker-1', labels('worker', 1, 1), RUNNING)]),
      at(10),
      { token, pollProgressSeconds: 0 }
    );
    assert.deepEqual(deleted(plan), ['flowers-worker-1']);
  });

  it('restarts the gang, uncounted, when a pod of the running gang is deleted from outside (drain, lost node)', () => {
    const pods = gang(1, RUNNING, { 'flowers-worker-0': { phase: 'Running', deletionTimestamp: at(90) } });
    const plan = planReconcile(runWith(running), everything(pods), at(100), { token, pollProgressSeconds: 0 });
    assert.deepEqual(attemptOf(plan), { phase: 'Restarting', attempt: 2, restarts: 0 });
    assert.equal(plan.status?.lastFailure?.pod, 'flowers-worker-0');
    assert.equal(plan.status?.lastFailure?.rank, 0);
    assert.equal(plan.status?.lastFailure?.reason, 'Evicted');
    assert.deepEqual(deleted(plan).sort(), ['flowers-coordinator', 'flowers-worker-1']);
    const gone = planReconcile(runWith(running), everything(gang(1, RUNNING).slice(0, 2)), at(100), {
      token,
      pollProgressSeconds: 0
    });
    assert.equal(gone.status?.lastFailure?.pod, 'flowers-worker-1');
    assert.equal(gone.status?.attempt, 2);
  });

  it("replaces a worker the coordinator's watchdog declared hung (it stays Running) and restarts the gang, counted, reason Hung", () => {
    const hung = [
      {
        workerId: 'flowers-worker-1',
        rank: 1,
        since: at(30).toISOString(),
        reason: 'worker flowers-worker-1 (rank 1) sent no heartbeat for 60.2 s: hung or unreachable'
      }
    ];
    const plan = planReconcile(runWith(running), { ...everything(gang(1, RUNNING)), hung }, at(95), {
      token,
      pollProgressSeconds: 0
    });
    assert.deepEqual(attemptOf(plan), { phase: 'Restarting', attempt: 2, restarts: 1 });
    assert.deepEqual(plan.status?.lastFailure, {
      pod: 'flowers-worker-1',
      rank: 1,
      reason: 'Hung',
      message: `the coordinator declared it hung: ${hung[0]!.reason}`,
      retryable: true,
      countedAgainstBackoffLimit: true,
      time: at(95).toISOString()
    });
    // Its process hangs, so it writes no checkpoint: no grace period, which could otherwise hold its name (and the next attempt) for minutes.
    assert.deepEqual(deleted(plan).sort(), ['flowers-coordinator', 'flowers-worker-0', 'force:flowers-worker-1']);
    assert.equal(condition(plan, 'Restarting')?.reason, 'Hung');
    assert.deepEqual(events(plan), ['Warning/GangRestart']);
  });

  it('ignores a hung verdict that is not about a pod of the running attempt (an old coordinator read while it terminates)', () => {
    const stale = [{ workerId: 'flowers-worker-1', rank: 1, since: at(30).toISOString(), reason: 'sent no heartbeat' }];
    const restarted: TrainingRunStatus = {
      ...running,
      attempt: 2,
      restarts: 1,
      lastFailure: {
        pod: 'flowers-worker-1',
        rank: 1,
        reason: 'Hung',
        message: 'hung',
        retryable: true,
        countedAgainstBackoffLimit: true,
        time: at(95).toISOString()
      }
    };
    // The verdict predates the restart it caused: the new attempt's pods are not hung.
    const plan = planReconcile(runWith(restarted), { ...everything(gang(2, RUNNING)), hung: stale }, at(120), {
      token,
      pollProgressSeconds: 0
    });
    assert.equal(plan.status?.phase, 'Running');
    assert.equal(plan.status?.attempt, 2);
    assert.deepEqual(deleted(plan), []);
    // A worker id that names no pod of the gang (a typo, another run's) deletes nothing either.
    const unknown = planReconcile(
      runWith(running),
      { ...everything(gang(1, RUNNING)), hung: [{ ...stale[0]!, workerId: 'someone-else' }] },
      at(95),
      { token, pollProgressSeconds: 0 }
    );
    assert.equal(unknown.status?.phase, 'Running');
    assert.deepEqual(deleted(unknown), []);
  });

  it('does not count preemptions, evictions or lost nodes against backoffLimit', () => {
    const preempted = {
      phase: 'Failed',
      conditions: [{ type: 'DisruptionTarget', status: 'True', reason: 'PreemptionByScheduler' }]
    } as const;
    const plan = planReconcile(
      runWith({ ...running, restarts: 3 }),
      everything(gang(1, RUNNING, { 'flowers-worker-0': preempted })),
      at(100),
      { token, pollProgressSeconds: 0 }
    );
    assert.equal(plan.status?.phase, 'Restarting');
    assert.equal(plan.status?.restarts, 3);
    assert.equal(plan.status?.lastFailure?.countedAgainstBackoffLimit, false);
    assert.match(plan.events[0]?.message ?? '', /not counted against backoffLimit/);
  });

  it('fails at once on OOMKilled, and cleans up every pod (cleanPodPolicy All)', () => {
    const plan = planReconcile(
      runWith(running),
      everything(
        gang(1, RUNNING, {
          'flowers-worker-0': { phase: 'Failed', terminated: { exitCode: 137, reason: 'OOMKilled' } }
        })
      ),
      at(100),
      { token, pollProgressSeconds: 0 }
    );
    assert.equal(plan.status?.phase, 'Failed');
    assert.equal(plan.status?.completionTime, at(100).toISOString());
    assert.equal(condition(plan, 'Failed')?.reason, 'OOMKilled');
    assert.equal(plan.status?.lastFailure?.retryable, false);
    assert.deepEqual(deleted(plan).sort(), ['flowers-coordinator', 'flowers-worker-0', 'flowers-worker-1']);
    assert.deepEqual(events(plan), ['Warning/OOMKilled']);
  });

  it('fails with BackoffLimitExceeded when a counted failure finds the budget used up', () => {
    const plan = planReconcile(
      runWith({ ...running, restarts: 2 }, { backoffLimit: 2 }),
      everything(gang(1, RUNNING, { 'flowers-worker-0': { phase: 'Failed', terminated: { exitCode: 143 } } })),
      at(100),
      { token, pollProgressSeconds: 0 }
    );
    assert.equal(plan.status?.phase, 'Failed');
    assert.equal(condition(plan, 'Failed')?.reason, 'BackoffLimitExceeded');
    assert.match(condition(plan, 'Failed')?.message ?? '', /runPolicy\.backoffLimit \(2\)/);
  });

  it('stays Running while the workers have finished and the coordinator is ending the run (seen on kind, attempt 1 and 2)', () => {
    // The workers exit 0 a moment before the coordinator writes the model and exits: the gang is finishing, not
    // waiting for pods. Before, the phase fell back to Pending (attempt 1) or Restarting (attempt 2) in between.
    for (const attempt of [1, 2]) {
      const pods = gang(attempt, { phase: 'Succeeded' }, { 'flowers-coordinator': RUNNING });
      const plan = planReconcile(runWith({ ...running, attempt }), everything(pods), at(500), {
        token,
        pollProgressSeconds: 0
      });
      assert.equal(plan.status?.phase, 'Running', `attempt ${attempt}`);
      assert.equal(condition(plan, 'Running')?.reason, 'WorkersFinished');
      assert.deepEqual(created(plan), [], 'no pod re-created for a worker that finished');
      assert.deepEqual(events(plan), []);
    }
  });

  it('succeeds when the coordinator exits 0, and with cleanPodPolicy Running keeps the finished pods', () => {
    const pods = gang(1, { phase: 'Succeeded' }, { 'flowers-worker-1': RUNNING });
    const plan = planReconcile(runWith(running, { cleanPodPolicy: 'Running' }), everything(pods), at(500), {
      token,
      pollProgressSeconds: 0
    });
    assert.equal(plan.status?.phase, 'Succeeded');
    assert.equal(plan.status?.modelUri, 's3://runs/flowers/model');
    assert.equal(condition(plan, 'Succeeded')?.status, 'True');
    assert.deepEqual(deleted(plan), ['flowers-worker-1']);
    assert.deepEqual(events(plan), ['Normal/Succeeded']);
  });

  it("succeeds with the coordinator's termination message as the reason: a run ended by early stopping says so", () => {
    const reason =
      'early stopping: validation accuracy did not improve for 3 epochs (patience 3); the best, 91.20% after epoch 4, is in model-best/';
    const pods = gang(1, { phase: 'Succeeded', terminated: { exitCode: 0, message: `${reason}\n` } });
    const plan = planReconcile(runWith(running), everything(pods), at(500), { token, pollProgressSeconds: 0 });
    assert.equal(plan.status?.phase, 'Succeeded');
    assert.equal(condition(plan, 'Succeeded')?.message, `${reason}; the model is at s3://runs/flowers/model`);
    const plain = planReconcile(runWith(running), everything(gang(1, { phase: 'Succeeded' })), at(500), {
      token,
      pollProgressSeconds: 0
    });
    assert.equal(condition(plain, 'Succeeded')?.message, 'training finished; the model is at s3://runs/flowers/model');
  });

  it('keeps every pod of a finished run with cleanPodPolicy None', () => {
    const plan = planReconcile(
      runWith({ ...running, phase: 'Failed', completionTime: at(10).toISOString() }, { cleanPodPolicy: 'None' }),
      everything(gang(1, RUNNING)),
      at(20),
      { token, pollProgressSeconds: 0 }
    );
    assert.deepEqual(plan.actions, []);
  });

  it('requeues for activeDeadlineSeconds, then fails the run with DeadlineExceeded', () => {
    const before = planRunningGangAt(450, { activeDeadlineSeconds: 600 });
    assert.equal(before.requeueAfterSeconds, 150);
    const after = planRunningGangAt(600, { activeDeadlineSeconds: 600 });
    assert.equal(after.status?.phase, 'Failed');
    assert.equal(condition(after, 'Failed')?.reason, 'DeadlineExceeded');
    assert.equal(deleted(after).length, 3);
  });

  it("says in the Stalled message why the coordinator's /status told nothing, when it could not be read", () => {
    const observed = {
      ...everything(gang(1, RUNNING)),
      statusUnreadable: 'http://flowers-coordinator.default.svc:8080/status answered with more than 4194304 bytes'
    };
    const plan = planReconcile(runWith(running, { progressDeadlineSeconds: 300 }), observed, at(300), {
      token,
      pollProgressSeconds: 0
    });
    assert.equal(plan.status?.lastFailure?.reason, 'Stalled');
    assert.match(
      plan.status?.lastFailure?.message ?? '',
      /no training step reported .*; the coordinator's \/status could not be read: .*more than 4194304 bytes/
    );
    assert.match(condition(plan, 'Stalled')?.message ?? '', /more than 4194304 bytes/);
  });

  it('declares the run Stalled and restarts the gang after progressDeadlineSeconds without a step', () => {
    const before = planRunningGangAt(200, { progressDeadlineSeconds: 300 });
    assert.equal(before.requeueAfterSeconds, 100);
    const plan = planRunningGangAt(300, { progressDeadlineSeconds: 300 });
    assert.equal(condition(plan, 'Stalled')?.status, 'True');
    assert.deepEqual(attemptOf(plan), { phase: 'Restarting', attempt: 2, restarts: 1 });
    assert.equal(plan.status?.lastFailure?.reason, 'Stalled');
    assert.deepEqual(events(plan), ['Warning/Stalled', 'Warning/GangRestart']);
    assert.equal(plan.status?.lastProgressTime, at(300).toISOString(), 'the new attempt gets a fresh progress clock');
  });

  it('counts a coordinator’s ingest that moves as progress, so a long ingest is not taken for a stall; one that stops moving stalls', () => {
    const policy = { progressDeadlineSeconds: 300 };
    const ingestRun = { dataset: { ingest: { source: 's3://raw/flowers', into: 's3://datasets/flowers' } } };
    let status: TrainingRunStatus | undefined = running;
    // Every 250 s the coordinator has read more images: past the deadline twice over, and never Stalled.
    for (const [seconds, imagesDone] of [
      [250, 1000],
      [500, 2000],
      [750, 2500]
    ] as const) {
      const plan = planReconcile(
        runWith(status, policy, ingestRun),
        everything(gang(1, RUNNING), undefined, { imagesDone, imagesTotal: 9000, shardsWritten: 0 }),
        at(seconds),
        { token, pollProgressSeconds: 0 }
      );
      assert.equal(plan.status?.phase, 'Running', `at ${seconds}s`);
      assert.equal(plan.status?.lastProgressTime, at(seconds).toISOString());
      assert.equal(condition(plan, 'Stalled')?.reason, 'Ingesting');
      assert.deepEqual(plan.status?.ingest, { imagesDone, imagesTotal: 9000, shardsWritten: 0 });
      status = plan.status;
    }
    // Then it reports the same numbers for progressDeadlineSeconds: a stall like any other, and a gang restart.
    const stuck = { imagesDone: 2500, imagesTotal: 9000, shardsWritten: 0 };
    const waiting = planReconcile(
      runWith(status, policy, ingestRun),
      everything(gang(1, RUNNING), undefined, stuck),
      at(1000),
      { token, pollProgressSeconds: 0 }
    );
    assert.equal(waiting.status?.lastProgressTime, at(750).toISOString());
    const stalled = planReconcile(
      runWith(waiting.status, policy, ingestRun),
      everything(gang(1, RUNNING), undefined, stuck),
      at(1050),
      { token, pollProgressSeconds: 0 }
    );
    assert.equal(condition(stalled, 'Stalled')?.status, 'True');
    assert.equal(stalled.status?.attempt, 2);
    assert.equal(stalled.status?.ingest, undefined, 'the next attempt counts its own ingest from zero');
  });

  describe('a gang waiting for nodes (PodScheduled False, Unschedulable)', () => {
    const policy = { progressDeadlineSeconds: 300 };
    const NO_GPU = '0/3 nodes are available: 3 Insufficient nvidia.com/gpu. preemption: 0/3 nodes are available.';
    /** A pod the scheduler has found no node for since `since`, saying `message`. */
    const unschedulableSince = (since: number, message = NO_GPU) =>
      ({
        phase: 'Pending',
        conditions: [
          { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message, lastTransitionTime: at(since) }
        ]
      }) as const;
    /** A pod the scheduler placed at `when`, its containers not started yet. */
    const scheduledAt = (when: number) =>
      ({
        phase: 'Pending',
        conditions: [{ type: 'PodScheduled', status: 'True', lastTransitionTime: at(when) }]
      }) as const;
    const pending: TrainingRunStatus = { ...running, phase: 'Pending' };
    /** The coordinator and worker 0 placed at 2 s, worker 1 waiting for a GPU since 5 s. */
    const oneWorkerWaits = (attempt = 1) =>
      gang(attempt, scheduledAt(2), { 'flowers-worker-1': unschedulableSince(5) });
    const reconcileAt = (seconds: number, status: TrainingRunStatus, pods: V1Pod[], extra = {}) =>
      planReconcile(runWith(status, { ...policy, ...extra }), everything(pods), at(seconds), {
        token,
        pollProgressSeconds: 0
      });

    it('does not stall for as long as a pod waits, and says so in a condition and, once, a Warning event', () => {
      const waiting = reconcileAt(1000, pending, oneWorkerWaits());
      assert.deepEqual(
        attemptOf(waiting),
        { phase: 'Pending', attempt: 1, restarts: 0 },
        'past the deadline, not Stalled'
      );
      assert.equal(condition(waiting, 'Stalled'), undefined);
      assert.deepEqual(deleted(waiting), []);
      assert.equal(waiting.requeueAfterSeconds, undefined, 'the pod being scheduled is a watch event; no timer needed');
      const unschedulable = condition(waiting, 'Unschedulable');
      assert.equal(unschedulable?.status, 'True');
      assert.equal(unschedulable?.reason, 'InsufficientResources');
      assert.match(
        unschedulable?.message ?? '',
        /^attempt 1: pod flowers-worker-1 cannot be scheduled: 0\/3 nodes are available: 3 Insufficient nvidia\.com\/gpu/
      );
      assert.equal(condition(waiting, 'Running')?.reason, 'PodsUnschedulable');
      assert.deepEqual(waiting.events, [{ type: 'Warning', reason: 'Unschedulable', message: unschedulable?.message }]);

      const still = reconcileAt(2000, waiting.status ?? {}, oneWorkerWaits());
      assert.equal(still.status?.phase, 'Pending');
      assert.deepEqual(events(still), [], 'the event is told once, not at every reconcile');
      assert.equal(condition(still, 'Unschedulable')?.lastTransitionTime, at(1000).toISOString());
    });

    it("names a wait that is not for capacity (no node matches) by the scheduler's reason", () => {
      const pods = gang(1, scheduledAt(2), {
        'flowers-worker-0': unschedulableSince(
          5,
          "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity."
        ),
        'flowers-worker-1': unschedulableSince(5)
      });
      const plan = reconcileAt(10, pending, pods);
      assert.equal(condition(plan, 'Unschedulable')?.reason, 'Unschedulable');
      assert.match(
        condition(plan, 'Unschedulable')?.message ?? '',
        /pod flowers-worker-0 \(and 1 more\) cannot be scheduled/
      );
    });

    it('does not stall while a pod is held by scheduling gates (a queue such as Kueue admits it later), and names the gates', () => {
      const pods = gang(1, scheduledAt(2), {
        'flowers-worker-1': {
          phase: 'Pending',
          conditions: [
            {
              type: 'PodScheduled',
              status: 'False',
              reason: 'SchedulingGated',
              message: 'Scheduling is blocked due to non-empty scheduling gates',
              lastTransitionTime: at(5)
            }
          ]
        }
      });
      pods[2]!.spec = { ...pods[2]!.spec!, schedulingGates: [{ name: 'kueue.x-k8s.io/admission' }] };
      const plan = reconcileAt(1000, pending, pods);
      assert.deepEqual(
        attemptOf(plan),
        { phase: 'Pending', attempt: 1, restarts: 0 },
        'past the deadline, not Stalled'
      );
      assert.equal(condition(plan, 'Stalled'), undefined);
      assert.equal(condition(plan, 'Unschedulable')?.reason, 'SchedulingGated');
      assert.match(condition(plan, 'Unschedulable')?.message ?? '', /flowers-worker-1.*kueue\.x-k8s\.io\/admission/);
      assert.deepEqual(events(plan), ['Normal/SchedulingGated'], 'a queue at work, not a warning');
    });

    it('starts the progress clock when the scheduler places the last pod, and clears the condition', () => {
      const waiting = reconcileAt(1000, pending, oneWorkerWaits());
      const placed = gang(1, scheduledAt(2), { 'flowers-worker-1': scheduledAt(2500) });
      const scheduled = reconcileAt(2600, waiting.status ?? {}, placed);
      assert.deepEqual(attemptOf(scheduled), { phase: 'Pending', attempt: 1, restarts: 0 });
      assert.equal(condition(scheduled, 'Unschedulable')?.status, 'False');
      assert.equal(condition(scheduled, 'Unschedulable')?.reason, 'Scheduled');
      assert.equal(scheduled.requeueAfterSeconds, 200, 'the deadline counts from 2500 s, when the gang was placed');

      const stalled = reconcileAt(2800, scheduled.status ?? {}, placed);
      assert.equal(condition(stalled, 'Stalled')?.status, 'True');
      assert.deepEqual(attemptOf(stalled), { phase: 'Restarting', attempt: 2, restarts: 1 });
      assert.equal(condition(stalled, 'Unschedulable'), undefined, 'the next attempt tells its own wait');

      // The next attempt's pods wait for a GPU too: told again, once for this attempt.
      const again = reconcileAt(2900, stalled.status ?? {}, oneWorkerWaits(2));
      assert.deepEqual(events(again), ['Warning/Unschedulable']);
      assert.match(condition(again, 'Unschedulable')?.message ?? '', /^attempt 2: /);
    });

    it('fails a gang that waits longer than runPolicy.scheduleTimeoutSeconds, freeing what it holds', () => {
      const timeout = { scheduleTimeoutSeconds: 600 };
      const before = reconcileAt(400, pending, oneWorkerWaits(), timeout);
      assert.equal(before.status?.phase, 'Pending');
      assert.equal(before.requeueAfterSeconds, 205, 'worker 1 has waited since 5 s');
      const after = reconcileAt(605, before.status ?? {}, oneWorkerWaits(), timeout);
      assert.equal(after.status?.phase, 'Failed');
      assert.equal(condition(after, 'Failed')?.reason, 'SchedulingTimeout');
      assert.match(
        condition(after, 'Failed')?.message ?? '',
        /scheduleTimeoutSeconds \(600s\): pod flowers-worker-1 cannot be scheduled: 0\/3 nodes/
      );
      assert.deepEqual(events(after), ['Warning/SchedulingTimeout']);
      assert.deepEqual(deleted(after), ['flowers-coordinator', 'flowers-worker-0', 'flowers-worker-1']);
    });
  });

  it("copies the coordinator's run plan into the status and tells it once, as a Planned event", () => {
    const plan = {
      summary:
        '5 classes; 3840 training and 960 validation images; 2 workers × 32 images = global batch 64; 60 iterations per epoch × 5 epochs = 300 iterations; Adam at learning rate 0.001 (constant)',
      classes: 5,
      trainImages: 3840,
      valImages: 960,
      globalBatch: 64,
      iterationsPerEpoch: 60,
      totalIterations: 300
    };
    const first = planReconcile(runWith(running), { ...everything(gang(1, RUNNING)), plan }, at(10), {
      token,
      pollProgressSeconds: 0
    });
    assert.deepEqual(first.status?.plan, plan);
    assert.deepEqual(
      first.events.filter((event) => event.reason === 'Planned'),
      [{ type: 'Normal', reason: 'Planned', message: plan.summary }]
    );
    const again = planReconcile(
      runWith(first.status),
      { ...everything(gang(1, RUNNING), { epoch: 0, step: 3 }), plan },
      at(20),
      { token, pollProgressSeconds: 0 }
    );
    assert.deepEqual(again.status?.plan, plan);
    assert.deepEqual(
      events(again).filter((event) => event.endsWith('/Planned')),
      [],
      'told once, not at every poll'
    );
  });

  it('deletes the pods on suspend, keeps the attempt, and resumes as a new attempt', () => {
    const suspended = planRunningGangAt(50, { suspend: true });
    assert.equal(suspended.status?.phase, 'Suspended');
    assert.deepEqual(deleted(suspended).sort(), ['flowers-coordinator', 'flowers-worker-0', 'flowers-worker-1']);
    assert.deepEqual(created(suspended), []);
    assert.equal(condition(suspended, 'Suspended')?.status, 'True');
    assert.deepEqual(events(suspended), ['Normal/Suspended']);
    const resumed = planReconcile(runWith(suspended.status), everything([]), at(80), { token, pollProgressSeconds: 0 });
    assert.equal(resumed.status?.attempt, 2);
    assert.equal(resumed.status?.restarts, 0);
    assert.equal(
      resumed.status?.startTime,
      at(80).toISOString(),
      'time suspended does not count against activeDeadlineSeconds'
    );
    assert.equal(condition(resumed, 'Suspended')?.status, 'False');
    assert.deepEqual(created(resumed), ['Pod/flowers-coordinator', 'Pod/flowers-worker-0', 'Pod/flowers-worker-1']);
    assert.deepEqual(events(resumed), ['Normal/Resumed', 'Normal/Pending']);
  });

  it('a run created suspended creates no pods until a queue admits it (suspend: false), then starts attempt 1', () => {
    const plan = planReconcile(
      runWith(undefined, { suspend: true }),
      { pods: [], serviceNames: [], secretExists: false, configMapExists: false, networkPolicyExists: false },
      T0,
      { token, pollProgressSeconds: 0 }
    );
    assert.deepEqual(plan.actions, []);
    assert.equal(plan.status?.phase, 'Suspended');
    assert.equal(plan.status?.attempt, undefined);
    const admitted = planReconcile(
      runWith(plan.status),
      { pods: [], serviceNames: [], secretExists: false, configMapExists: false, networkPolicyExists: false },
      at(60),
      { token, pollProgressSeconds: 0 }
    );
    assert.equal(admitted.status?.attempt, 1);
    assert.equal(admitted.status?.startTime, at(60).toISOString());
    assert.equal(condition(admitted, 'Suspended')?.status, 'False');
    assert.equal(condition(admitted, 'Suspended')?.reason, 'Admitted');
    assert.deepEqual(events(admitted), ['Normal/Started', 'Normal/Pending']);
  });

  it('requeues until ttlSecondsAfterFinished, then deletes the run', () => {
    const done: TrainingRunStatus = { ...running, phase: 'Succeeded', completionTime: at(100).toISOString() };
    const early = planReconcile(runWith(done, { ttlSecondsAfterFinished: 60 }), everything([]), at(130), {
      token,
      pollProgressSeconds: 0
    });
    assert.equal(early.requeueAfterSeconds, 30);
    assert.deepEqual(early.actions, []);
    const late = planReconcile(runWith(done, { ttlSecondsAfterFinished: 60 }), everything([]), at(160), {
      token,
      pollProgressSeconds: 0
    });
    assert.deepEqual(
      late.actions.map((a) => a.kind),
      ['delete-run']
    );
  });

  it('force-deletes a pod stuck Terminating past the grace period, and requeues until then', () => {
    const stuck = [
      observedPod('flowers-worker-0', labels('worker', 1, 0), { phase: 'Running', deletionTimestamp: at(0) })
    ];
    const soon = planReconcile(runWith({ ...running, attempt: 2, phase: 'Restarting' }), everything(stuck), at(100), {
      token,
      forceDeleteAfterSeconds: 300,
      pollProgressSeconds: 0
    });
    assert.equal(soon.requeueAfterSeconds, 200);
    assert.deepEqual(deleted(soon), []);
    const late = planReconcile(runWith({ ...running, attempt: 2, phase: 'Restarting' }), everything(stuck), at(300), {
      token,
      forceDeleteAfterSeconds: 300,
      pollProgressSeconds: 0
    });
    assert.deepEqual(deleted(late), ['force:flowers-worker-0']);
    assert.ok(events(late).includes('Warning/ForceDeleted'));
  });

  it('leaves a run managed by another controller alone (Kueue managedBy contract)', () => {
    const plan = planReconcile(
      runWith(undefined, {}, { managedBy: 'kueue.x-k8s.io/multikueue' }),
      { pods: [], serviceNames: [], secretExists: false, configMapExists: false, networkPolicyExists: false },
      T0,
      { token, pollProgressSeconds: 0 }
    );
    assert.deepEqual(plan, { actions: [], status: undefined, events: [] });
  });

  it('the first failure reported is the coordinator, then the lowest rank', () => {
    const failedPod = { phase: 'Failed', terminated: { exitCode: 143 } } as const;
    const plan = planReconcile(runWith(running), everything(gang(1, failedPod)), at(100), {
      token,
      pollProgressSeconds: 0
    });
    assert.equal(plan.status?.lastFailure?.pod, 'flowers-coordinator');
    assert.equal(plan.status?.lastFailure?.rank, undefined);
  });
});
