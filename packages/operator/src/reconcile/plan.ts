import type {
  KubernetesObject,
  V1ConfigMap,
  V1NetworkPolicy,
  V1Pod,
  V1PodCondition,
  V1Secret,
  V1Service
} from '@kubernetes/client-node';
import { OPERATOR_MANAGER } from '../api/group-version.js';
import type { Phase, TrainingRunStatus } from '../api/status-schema.js';
import type { TrainingRun } from '../api/training-run.js';
import { LABEL_ATTEMPT, LABEL_RANK, LABEL_ROLE, names } from '../resources/names.js';
import { globalRank, ranksPerPod, worldSize } from '../api/ranks.js';
import { uriPolicyViolations } from '../api/uri-policy.js';
import {
  buildConfigMap,
  buildCoordinatorPod,
  buildCoordinatorService,
  buildNetworkPolicy,
  buildSecret,
  buildWorkerPod,
  buildWorkersService
} from '../resources/templates.js';
import type { ClusterSettings } from '../resources/templates.js';
import type { RunTlsIdentity } from '../resources/run-identity.js';
import { buildPodGroup, wantsPodGroup, withPodGroup, type PodGroup } from '../resources/pod-group.js';
import {
  POD_SETS,
  admittedFlavorNames,
  admittedPlacement,
  buildWorkload,
  evictionOf,
  holdsQuota,
  isAdmitted,
  isFinished,
  podSetOf,
  queueNameOf,
  runPriorityClassName,
  workloadName,
  withAdmittedPlacement,
  workloadInSync,
  type AdmittedPlacement,
  type PodSetName,
  type ResourceFlavor,
  type Workload,
  type WorkloadCondition
} from '../resources/kueue.js';
import { conditionIs, setCondition, type ConditionType } from './conditions.js';
import { classifyPodFailure, type FailureVerdict } from './failure-policy.js';

/** What the coordinator's /status said last, reduced to what the TrainingRun's status shows. */
export interface CoordinatorProgress {
  readonly epoch: number;
  readonly step: number;
  readonly loss?: number;
  readonly accuracy?: number;
  readonly imagesPerSecond?: number;
  readonly lastCheckpoint?: { readonly uri: string; readonly step: number; readonly time?: string };
}

/** What the coordinator's /status says while it ingests the run's dataset (`spec.dataset.ingest`), before any step. */
export interface IngestProgress {
  readonly imagesDone: number;
  readonly imagesTotal: number;
  /** Shards stored so far, uploaded or found already there. */
  readonly shardsWritten: number;
}

/** The run plan the coordinator computed from the dataset, as much of it as the TrainingRun shows. */
export interface RunPlanSummary {
  /** The plan in the crash course's words, on one line (the "Planned" event's message). */
  readonly summary: string;
  readonly classes: number;
  readonly trainImages: number;
  readonly valImages: number;
  readonly globalBatch: number;
  readonly iterationsPerEpoch: number;
  readonly totalIterations: number;
}

/** A worker the coordinator's heartbeat watchdog declared hung (packages/coordinator HungWorker). */
export interface HungWorkerReport {
  /** The worker's id: its pod's name. */
  readonly workerId: string;
  readonly rank: number;
  /** Its last sign of life, by the coordinator's clock. */
  readonly since: string;
  readonly reason: string;
}

/** What the coordinator's /status said: training progress, or how far the ingest before training is, and its plan. */
export interface CoordinatorReport {
  readonly progress?: CoordinatorProgress;
  readonly ingest?: IngestProgress;
  readonly plan?: RunPlanSummary;
  /** Workers silent past the heartbeat deadline; a hung process stays Running, so only this tells. */
  readonly hung?: readonly HungWorkerReport[];
  /**
   * Why /status said nothing this time, when the coordinator answered with something the operator will not
   * read (too large, too slow, not its shape); absent for a coordinator that is not up yet.
   */
  readonly unreadable?: string;
}

/** The cluster as reconcile sees it: the run's children, found by label and name. */
export interface Observed {
  readonly pods: readonly V1Pod[];
  readonly serviceNames: readonly string[];
  readonly secretExists: boolean;
  readonly configMapExists: boolean;
  readonly networkPolicyExists: boolean;
  readonly progress?: CoordinatorProgress;
  readonly ingest?: IngestProgress;
  readonly plan?: RunPlanSummary;
  readonly hung?: readonly HungWorkerReport[];
  /** CoordinatorReport.unreadable: named in a Stalled verdict, where it is the likely cause. */
  readonly statusUnreadable?: string;
  /** With PlanOptions.kueue, a queued run's Workload (`trainingrun-<run>`) as the informer has it; absent: none. */
  readonly workload?: Workload;
  /** The ResourceFlavors its admission names, by name; one missing here is not (yet) known to exist. */
  readonly flavors?: ReadonlyMap<string, ResourceFlavor>;
  /** Before its Workload is created: the value of the run's PriorityClass (runPriorityClassName), if it exists. */
  readonly priorityClassValue?: number;
  /** For a run with runPolicy.gangScheduling.podGroup: whether its PodGroup exists. */
  readonly podGroupExists?: boolean;
}

export type Action =
  | { readonly kind: 'create'; readonly object: ChildObject }
  | { readonly kind: 'delete-pod'; readonly name: string; readonly force: boolean; readonly why: string }
  | { readonly kind: 'delete-run'; readonly why: string }
  | { readonly kind: 'delete-workload'; readonly name: string; readonly why: string }
  | {
      readonly kind: 'write-workload-status';
      readonly name: string;
      /** The Workload's resourceVersion this was decided from: the write is refused (409) if Kueue wrote since. */
      readonly resourceVersion: string;
      /** The whole list of the Workload's conditions to store. */
      readonly conditions: WorkloadCondition[];
      /** Remove status.admission: the quota goes back to the queue (after an eviction). */
      readonly clearAdmission: boolean;
      readonly why: string;
    };

/** What reconcile creates for a run; each is owned by the run, so the garbage collector deletes it with it. */
export type ChildObject = V1Pod | V1Service | V1Secret | V1ConfigMap | V1NetworkPolicy | QueuedWorkload | PodGroup;
/** A kueue.x-k8s.io Workload (resources/kueue.ts buildWorkload). */
export type QueuedWorkload = KubernetesObject & { readonly kind: 'Workload' };

export interface RunEvent {
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
}

export interface Plan {
  readonly actions: Action[];
  /** The whole status to write; undefined when the run is another controller's. */
  readonly status: TrainingRunStatus | undefined;
  readonly events: RunEvent[];
  /** Reconcile again after this long even if nothing changes: the next deadline or timer. */
  readonly requeueAfterSeconds?: number;
}

export interface PlanOptions {
  /** The collective token, used only if the run's Secret is missing. */
  readonly token: string;
  /** The run's TLS identity, for its Secret with the token (the reconciler always has one; a plan test may not). */
  readonly tls?: RunTlsIdentity;
  /** A pod still Terminating this long after its deletion deadline is force-deleted (its node is gone). */
  readonly forceDeleteAfterSeconds?: number;
  /**
   * While the coordinator runs, reconcile again this often to copy its progress into the status: nothing in
   * the cluster changes when a training step completes, so no watch event would. 0 turns polling off.
   */
  readonly pollProgressSeconds?: number;
  readonly cluster?: ClusterSettings;
  /**
   * Why the run may not start: another run owns its output or checkpoint prefix (output-ownership.ts, from the
   * runs the reconciler knows). Checked before the first attempt only, like the URI policy.
   */
  readonly outputInUse?: string;
  /**
   * Kueue admits runs labelled `kueue.x-k8s.io/queue-name` (`ringtrain operator --kueue`): through a Workload the
   * operator creates, and no pod before Kueue admits it. Without it that label is only a label.
   */
  readonly kueue?: boolean;
  /**
   * PodGroups of the coscheduling plugin for runs that ask for them (`--pod-group-scheduler`), scheduled by this
   * scheduler unless the run names another. Unset: such a run fails before it starts (PodGroupsDisabled).
   */
  readonly podGroups?: { readonly schedulerName: string };
}

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/** Waiting reasons that do not clear by themselves: a referenced Secret or ConfigMap missing, an image not pulled. */
const STUCK_REASONS = new Set(['CreateContainerConfigError', 'ErrImagePull', 'ImagePullBackOff', 'InvalidImageName']);

/** The first container the kubelet cannot start, as `<pod>: <reason>: <message>`; undefined when none is stuck. */
function stuckContainers(pods: readonly V1Pod[]): string | undefined {
  for (const pod of pods) {
    for (const container of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
      const waiting = container.state?.waiting;
      if (waiting?.reason && STUCK_REASONS.has(waiting.reason))
        return `${pod.metadata?.name ?? 'a pod'}: ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`;
    }
  }
  return undefined;
}

/** A pod the scheduler found no node for, and what it said (e.g. `0/3 nodes are available: 3 Insufficient nvidia.com/gpu`). */
interface UnschedulablePod {
  readonly pod: V1Pod;
  readonly condition: V1PodCondition;
}

/**
 * Pending pods whose PodScheduled condition is False for reason Unschedulable (no node has the free CPU, GPUs or
 * memory they request, or none matches their affinity, selector and tolerations) or SchedulingGated (held until
 * whoever set the gate lifts it: a queue such as Kueue's plain-pod integration, which a user reaches through the
 * pod template's labels). The coordinator first, then workers by rank.
 */
function unschedulablePods(pods: readonly V1Pod[]): UnschedulablePod[] {
  const waiting: UnschedulablePod[] = [];
  for (const pod of [...pods].sort(byRoleAndRank)) {
    if (pod.status?.phase !== 'Pending') continue;
    const condition = pod.status.conditions?.find((c) => c.type === 'PodScheduled');
    if (
      condition?.status === 'False' &&
      (condition.reason === 'Unschedulable' || condition.reason === 'SchedulingGated')
    )
      waiting.push({ pod, condition });
  }
  return waiting;
}

/** A metav1.Time in ms: client-node's list deserialises it to a Date, a watch event leaves the RFC 3339 string. */
const timeOf = (time: Date | string | undefined): number => (time === undefined ? NaN : new Date(time).getTime());

/** When the scheduler placed the last of these pods (PodScheduled True); undefined when it placed none. */
function lastScheduledTime(pods: readonly V1Pod[]): number | undefined {
  const times = pods
    .map((pod) => pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'True'))
    .map((condition) => timeOf(condition?.lastTransitionTime))
    .filter((time) => Number.isFinite(time));
  return times.length > 0 ? Math.max(...times) : undefined;
}

const isTerminal = (pod: V1Pod) => pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
const attemptOf = (pod: V1Pod) => Number(pod.metadata?.labels?.[LABEL_ATTEMPT] ?? '0');
const isReady = (pod: V1Pod) =>
  pod.status?.phase === 'Running' &&
  (pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false);

/**
 * The whole reconcile decision as a pure function: (run, observed, now) → actions, the status to write,
 * events and the next timer. Level-based: it reads only the current state, never remembers a previous call,
 * so running it twice, or after a crash, does the right thing. The controller only executes the plan.
 *
 * Phases and what ends each one (no phase lasts forever, but for a wait for nodes without scheduleTimeoutSeconds):
 *   Pending/Restarting → Running when every pod runs; → Failed at activeDeadlineSeconds; → a gang restart
 *                        at progressDeadlineSeconds (the progress clock restarts with each attempt, and stands
 *                        still while a pod waits for a node); → Failed at scheduleTimeoutSeconds of such a wait.
 *   Running            → Succeeded when the coordinator exits 0; → Restarting on a retryable failure,
 *                        including a worker the coordinator's heartbeat watchdog declared hung;
 *                        → Failed on a permanent one, past backoffLimit, or at activeDeadlineSeconds.
 *   Suspended          → a new attempt when spec.runPolicy.suspend turns false.
 *   Succeeded/Failed   → deleted at ttlSecondsAfterFinished (kept when unset).
 */
export function planReconcile(run: TrainingRun, observed: Observed, now: Date, options: PlanOptions): Plan {
  if (run.spec.managedBy !== undefined && run.spec.managedBy !== OPERATOR_MANAGER)
    return { actions: [], status: undefined, events: [] };
  return new Planner(run, observed, now, options).plan();
}

class Planner {
  private readonly actions: Action[] = [];
  private readonly events: RunEvent[] = [];
  private readonly timers: number[] = [];
  private status: TrainingRunStatus;
  private readonly nowIso: string;
  private readonly previousPhase: Phase | undefined;
  /** Where Kueue's admission puts each podSet's pods; set by queued() for an admitted run. */
  private placements: ReadonlyMap<PodSetName, AdmittedPlacement> | undefined;
  /** The run's admitted Workload, whose PodsReady condition active() keeps (syncPodsReady). */
  private admittedWorkload: Workload | undefined;

  constructor(
    private readonly run: TrainingRun,
    private readonly observed: Observed,
    private readonly now: Date,
    private readonly options: PlanOptions
  ) {
    this.status = structuredClone(run.status ?? {});
    this.nowIso = now.toISOString();
    this.previousPhase = run.status?.phase;
  }

  plan(): Plan {
    this.status.observedGeneration = this.run.metadata.generation;
    this.forceDeleteStuckPods();
    if (this.status.phase === 'Succeeded' || this.status.phase === 'Failed') this.finished();
    else if (this.run.spec.runPolicy.suspend) this.suspended();
    else if (!this.queued()) this.active();
    this.status.readyWorkers = this.workerPods().filter(isReady).length;
    this.status.workers = `${this.status.readyWorkers}/${this.run.spec.workers.replicas}`;
    this.status.ranks = worldSize(this.run.spec.workers);
    const requeue = this.timers.length > 0 ? Math.min(...this.timers) : undefined;
    return {
      actions: this.actions,
      status: this.status,
      events: this.events,
      ...(requeue !== undefined ? { requeueAfterSeconds: requeue } : {})
    };
  }

  // ---- phases ------------------------------------------------------------------------------------------

  private active(): void {
    const policy = this.run.spec.runPolicy;
    if (this.status.attempt === undefined) {
      // Before anything is created: a pod would read or write what the spec names with the run's credentials.
      const refused = uriPolicyViolations(this.run, this.options.cluster?.uriPolicy);
      if (refused.length > 0) {
        this.fail('URINotAllowed', refused.join('; '));
        return;
      }
      if (this.options.outputInUse !== undefined) {
        this.fail('OutputURIInUse', this.options.outputInUse);
        return;
      }
      if (wantsPodGroup(this.run) && !this.options.podGroups) {
        this.fail(
          'PodGroupsDisabled',
          'runPolicy.gangScheduling.podGroup: the operator was started without --pod-group-scheduler (the chart: operator.podGroups.enabled), so it makes no PodGroups here'
        );
        return;
      }
    }
    if (this.status.phase === 'Suspended' || this.status.attempt === undefined)
      this.startAttempt(this.status.attempt === undefined ? 'Started' : 'Resumed');
    const attempt = this.status.attempt ?? 1;

    if (policy.activeDeadlineSeconds !== undefined && this.status.startTime) {
      const deadline = Date.parse(this.status.startTime) + policy.activeDeadlineSeconds * 1000;
      if (deadline <= this.now.getTime()) {
        this.fail(
          'DeadlineExceeded',
          `the run did not finish within runPolicy.activeDeadlineSeconds (${policy.activeDeadlineSeconds}s)`
        );
        return;
      }
      this.timers.push(seconds(deadline - this.now.getTime()));
    }

    // Pods of earlier attempts go before their names are reused by this one.
    for (const pod of this.observed.pods) {
      if (attemptOf(pod) !== attempt && !pod.metadata?.deletionTimestamp)
        this.deletePod(pod, `left over from attempt ${attemptOf(pod)}`);
    }
    const current = this.currentPods();
    const coordinator = current.find((p) => p.metadata?.labels?.[LABEL_ROLE] === 'coordinator');
    if (coordinator?.status?.phase === 'Succeeded') {
      this.succeed(coordinator);
      return;
    }
    const failed = [...current].filter((p) => p.status?.phase === 'Failed').sort(byRoleAndRank)[0];
    if (failed) {
      this.failure(failed, classifyPodFailure(failed));
      return;
    }
    const vanished = this.previousPhase === 'Running' ? this.vanishedPod(attempt) : undefined;
    if (vanished) {
      const message = `pod ${vanished.metadata?.name} of the running gang was deleted or is terminating (a drain, an eviction or a lost node)`;
      this.failure(vanished, { reason: 'Evicted', message, retryable: true, counted: false });
      return;
    }
    const hung = this.hungPod();
    if (hung) {
      // Its process hangs, so it writes no checkpoint and may not even take SIGTERM (SIGSTOP, a stuck driver
      // call): no grace period, which would otherwise hold its name, and so the next attempt, that long.
      this.actions.push({
        kind: 'delete-pod',
        name: hung.pod.metadata?.name ?? '',
        force: true,
        why: `hung: ${hung.report.reason}`
      });
      this.failure(
        hung.pod,
        {
          reason: 'Hung',
          message: `the coordinator declared it hung: ${hung.report.reason}`,
          retryable: true,
          counted: true
        },
        hung.report.rank
      );
      return;
    }

    this.copyPlan();
    this.copyIngestProgress();
    this.copyProgress();
    const unschedulable = unschedulablePods(current);
    if (this.waitForNodes(attempt, unschedulable)) return;
    // Waiting for capacity is not a stall: while a pod waits for a node the clock stands still, and then it
    // counts from the later of the last progress and the moment the scheduler placed the gang's last pod.
    if (policy.progressDeadlineSeconds !== undefined && unschedulable.length === 0) {
      const since = Math.max(
        Date.parse(this.status.lastProgressTime ?? this.nowIso),
        lastScheduledTime(current) ?? -Infinity
      );
      const deadline = since + policy.progressDeadlineSeconds * 1000;
      if (deadline <= this.now.getTime()) {
        const unreadable = this.observed.statusUnreadable
          ? `; the coordinator's /status could not be read: ${this.observed.statusUnreadable.slice(0, 512)}`
          : '';
        const message = `no training step reported for runPolicy.progressDeadlineSeconds (${policy.progressDeadlineSeconds}s)${unreadable}`;
        this.setCondition('Stalled', 'True', 'ProgressDeadlineExceeded', message);
        this.event('Warning', 'Stalled', message);
        this.failure(undefined, { reason: 'Stalled', message, retryable: true, counted: true });
        return;
      }
      this.timers.push(seconds(deadline - this.now.getTime()));
    }

    this.ensureChildren(attempt);
    const running = this.currentPods();
    const coordinatorRuns = running.some(
      (p) => p.metadata?.labels?.[LABEL_ROLE] === 'coordinator' && p.status?.phase === 'Running'
    );
    const poll = this.options.pollProgressSeconds ?? 15;
    if (coordinatorRuns && poll > 0) this.timers.push(poll);
    const workers = this.workerPods();
    const allRunning =
      coordinatorRuns && workers.filter((p) => p.status?.phase === 'Running').length === this.run.spec.workers.replicas;
    // Workers exit 0 a moment before the coordinator writes the model and exits: a gang that is finishing,
    // not one waiting for its pods (which would read as Pending, or Restarting after a restart).
    const finishing =
      coordinatorRuns &&
      this.status.phase === 'Running' &&
      workers.length === this.run.spec.workers.replicas &&
      workers.some((p) => p.status?.phase === 'Succeeded') &&
      workers.every((p) => p.status?.phase === 'Running' || p.status?.phase === 'Succeeded');
    if (finishing) {
      const message = `attempt ${attempt}: the workers finished; the coordinator is ending the run`;
      this.setPhase('Running', message);
      this.setCondition('Running', 'True', 'WorkersFinished', message);
    } else if (allRunning) {
      this.setPhase('Running', `all ${describeWorkers(this.run)} and the coordinator are running (attempt ${attempt})`);
      this.setCondition('Running', 'True', 'AllPodsRunning', `attempt ${attempt}: every pod of the gang is running`);
      this.setCondition('Restarting', 'False', 'AllPodsRunning', `attempt ${attempt} is running`);
    } else {
      const phase: Phase =
        this.status.phase === 'Restarting' || (this.status.phase === 'Running' && attempt > 1)
          ? 'Restarting'
          : 'Pending';
      // What the kubelet says stops a pod (a missing Secret, an image it cannot pull) is what a user must fix;
      // what the scheduler says, what the cluster lacks.
      const stuck = stuckContainers(this.observed.pods);
      const why = stuck ?? (unschedulable.length > 0 ? describeUnschedulable(unschedulable) : undefined);
      this.setPhase(phase, `waiting for the pods of attempt ${attempt} to run${why ? `: ${why}` : ''}`);
      this.setCondition(
        'Running',
        'False',
        stuck ? 'PodsStuck' : unschedulable.length > 0 ? 'PodsUnschedulable' : 'PodsNotRunning',
        `attempt ${attempt}: waiting for ${this.run.spec.workers.replicas + 1} pods to run${why ? `: ${why}` : ''}`
      );
    }
    this.syncPodsReady(allRunning || finishing);
  }

  /**
   * The admitted Workload's PodsReady condition, as Kueue's job integrations keep it: Kueue's waitForPodsReady
   * evicts a Workload whose pods are not all ready within its timeout, so one that never says they are would be
   * evicted however well it runs. Written only when it changes.
   */
  private syncPodsReady(ready: boolean): void {
    const workload = this.admittedWorkload;
    if (!workload?.metadata.resourceVersion) return;
    const current = workload.status?.conditions?.find((c) => c.type === 'PodsReady');
    const recovering = current?.reason === 'WaitForRecovery' || current?.reason === 'Recovered';
    const next = ready
      ? {
          status: 'True' as const,
          reason: recovering ? 'Recovered' : 'Started',
          message: 'All pods reached readiness and the workload is running'
        }
      : current?.status === 'True' || current?.reason === 'WaitForRecovery'
        ? {
            status: 'False' as const,
            reason: 'WaitForRecovery',
            message: 'At least one pod has failed, waiting for recovery'
          }
        : { status: 'False' as const, reason: 'WaitForStart', message: 'Not all pods are ready or succeeded' };
    if (current?.status === next.status && current.reason === next.reason) return;
    this.actions.push({
      kind: 'write-workload-status',
      name: workload.metadata.name,
      resourceVersion: workload.metadata.resourceVersion,
      conditions: withWorkloadCondition(workload.status?.conditions ?? [], { type: 'PodsReady', ...next }, this.nowIso),
      clearAdmission: false,
      why: `the gang's pods are ${ready ? '' : 'not '}all running`
    });
  }

  /**
   * A run that Kueue admits (PlanOptions.kueue and the run's `kueue.x-k8s.io/queue-name` label) waits for its
   * Workload's admission with no pods: true while it waits, false once admitted (active() then runs the attempt,
   * its pods placed on the admission's flavors). Evicted (preempted, a stopped queue, PodsReady timeout): its pods
   * go as for a suspend, then the quota goes back to the queue, as Kueue's job integrations do it; re-admitted, it
   * resumes from its checkpoint as a new attempt. No wait in the queue counts toward progressDeadlineSeconds or
   * activeDeadlineSeconds, nor uses the restart budget.
   */
  private queued(): boolean {
    this.placements = undefined;
    this.admittedWorkload = undefined;
    const queue = this.options.kueue ? queueNameOf(this.run) : undefined;
    if (queue === undefined) return false;
    // A run that may not start at all is failed by active(), not queued for quota it would never use.
    if (this.status.attempt === undefined && this.refusedBeforeStart()) return false;
    const workload = this.ownWorkload();
    const admittedBefore = conditionIs(this.status.conditions, 'Admitted');
    const waitedBefore = this.status.conditions?.find((c) => c.type === 'Admitted' && c.status === 'False');
    const eviction = workload ? evictionOf(workload) : undefined;
    if (workload && isAdmitted(workload) && !eviction) {
      const placements = new Map<PodSetName, AdmittedPlacement>();
      for (const podSet of [POD_SETS.coordinator, POD_SETS.workers]) {
        const placement = admittedPlacement(workload, podSet, this.observed.flavors ?? new Map());
        if (placement) placements.set(podSet, placement);
      }
      const clusterQueue = workload.status?.admission?.clusterQueue ?? '';
      if (placements.size < 2) {
        const missing = admittedFlavorNames(workload).filter((name) => !this.observed.flavors?.has(name));
        this.waitInQueue(
          'FlavorUnknown',
          `admitted by ClusterQueue ${clusterQueue}, but ResourceFlavor ${missing.join(', ')} cannot be read: no pods until it can (placing them elsewhere would miss the quota's nodes)`
        );
        return true;
      }
      this.placements = placements;
      this.admittedWorkload = workload;
      const flavors = admittedFlavorNames(workload).join(', ');
      const message = `admitted by ClusterQueue ${clusterQueue} from LocalQueue ${queue}${flavors ? ` on ResourceFlavor ${flavors}` : ''}`;
      this.setCondition('Admitted', 'True', 'Admitted', message);
      if (!admittedBefore) {
        this.event('Normal', 'Admitted', message);
        // Re-admitted after an eviction: the pods of the attempt Kueue stopped are gone; the next one resumes.
        if (this.status.attempt !== undefined) this.startAttempt('Resumed');
      }
      return false;
    }
    for (const pod of this.observed.pods)
      if (!pod.metadata?.deletionTimestamp)
        this.deletePod(pod, eviction ? `evicted by Kueue: ${eviction.reason ?? 'Evicted'}` : 'not admitted by Kueue');
    if (!workload) {
      const priorityClass = runPriorityClassName(this.run);
      if (priorityClass !== undefined && this.observed.priorityClassValue === undefined) {
        // Kueue orders and preempts by its value; queued without it, the run would wait as if it had none.
        this.waitInQueue(
          'PriorityClassUnknown',
          `PriorityClass ${priorityClass} cannot be read: the run is queued once it can (its pods would be refused without it too)`
        );
        return true;
      }
      const priority =
        priorityClass !== undefined && this.observed.priorityClassValue !== undefined
          ? { name: priorityClass, value: this.observed.priorityClassValue }
          : undefined;
      if (!this.observed.workload)
        this.create(buildWorkload(this.run, this.options.cluster, priority) as QueuedWorkload);
      this.waitInQueue(
        'Queued',
        `queued in LocalQueue ${queue}: waiting for Kueue to admit Workload ${workloadName(this.run)}`
      );
      return true;
    }
    if (!eviction && !holdsQuota(workload)) {
      // Edited while queued (workers, resources, the queue): its Workload's podSets cannot change, so it is replaced.
      const priorityClass = runPriorityClassName(this.run);
      const wanted = buildWorkload(
        this.run,
        this.options.cluster,
        priorityClass !== undefined && this.observed.priorityClassValue !== undefined
          ? { name: priorityClass, value: this.observed.priorityClassValue }
          : undefined
      );
      if (
        (priorityClass === undefined || this.observed.priorityClassValue !== undefined) &&
        !workloadInSync(workload, wanted)
      )
        this.actions.push({
          kind: 'delete-workload',
          name: workload.metadata.name,
          why: 'the run changed while queued: its Workload is replaced'
        });
    }
    if (eviction) {
      const reason = eviction.reason ?? 'Evicted';
      const message = `evicted by Kueue (${reason}${eviction.message ? `: ${eviction.message}` : ''}); waiting in LocalQueue ${queue} to be admitted again, which does not count toward runPolicy.progressDeadlineSeconds nor runPolicy.backoffLimit`;
      // Kueue's job integrations give the quota back once the job has stopped: here, once no pod is left.
      if (holdsQuota(workload) && this.observed.pods.length === 0 && workload.metadata.resourceVersion)
        this.actions.push({
          kind: 'write-workload-status',
          name: workload.metadata.name,
          resourceVersion: workload.metadata.resourceVersion,
          conditions: requeuedConditions(workload, eviction, this.nowIso),
          clearAdmission: true,
          why: `its pods are gone after the eviction (${reason})`
        });
      if (waitedBefore?.reason !== 'Evicted') this.event('Warning', 'Evicted', message);
      this.waitInQueue('Evicted', message);
      return true;
    }
    this.waitInQueue(
      'Queued',
      `queued in LocalQueue ${queue}: waiting for Kueue to admit Workload ${workloadName(this.run)}`
    );
    return true;
  }

  /** The run waits for Kueue: phase Pending, condition Admitted False saying where and why. */
  private waitInQueue(reason: 'Queued' | 'Evicted' | 'FlavorUnknown' | 'PriorityClassUnknown', message: string): void {
    const before = this.status.conditions?.find((c) => c.type === 'Admitted');
    this.setCondition('Admitted', 'False', reason, message);
    this.setCondition('Running', 'False', reason, message);
    if (conditionIs(this.status.conditions, 'Unschedulable'))
      this.setCondition('Unschedulable', 'False', reason, 'the run has no pods to schedule until Kueue admits it');
    this.setPhase('Pending', message);
    if (reason === 'Queued' && (before === undefined || before.status === 'True'))
      this.event('Normal', 'Queued', message);
    if ((reason === 'FlavorUnknown' || reason === 'PriorityClassUnknown') && before?.reason !== reason)
      this.event('Warning', reason, message);
  }

  /** The run's own Workload: by name, owned by this run (uid), not being deleted. */
  private ownWorkload(): Workload | undefined {
    const workload = this.observed.workload;
    if (!workload || workload.metadata.deletionTimestamp) return undefined;
    const uid = this.run.metadata.uid;
    return (workload.metadata.ownerReferences ?? []).some((o) => o.uid === uid) ? workload : undefined;
  }

  /** Whether active() would fail a run before its first attempt (URI policy, output in use). */
  private refusedBeforeStart(): boolean {
    return (
      uriPolicyViolations(this.run, this.options.cluster?.uriPolicy).length > 0 ||
      this.options.outputInUse !== undefined ||
      (wantsPodGroup(this.run) && !this.options.podGroups)
    );
  }

  private suspended(): void {
    // A suspended run holds no quota: its Workload goes, and a new one queues when it is resumed.
    const workload = this.options.kueue ? this.ownWorkload() : undefined;
    if (workload)
      this.actions.push({ kind: 'delete-workload', name: workload.metadata.name, why: 'the run is suspended' });
    if (conditionIs(this.status.conditions, 'Admitted'))
      this.setCondition(
        'Admitted',
        'False',
        'Suspended',
        'the run is suspended: its Workload is deleted, its quota released'
      );
    for (const pod of this.observed.pods)
      if (!pod.metadata?.deletionTimestamp) this.deletePod(pod, 'the run is suspended');
    if (this.status.phase !== 'Suspended') {
      this.setPhase('Suspended', 'spec.runPolicy.suspend is true: pods deleted, the checkpoint is kept');
      this.setCondition('Suspended', 'True', 'Suspended', 'spec.runPolicy.suspend is true');
      this.setCondition('Running', 'False', 'Suspended', 'the run is suspended');
    }
    if (conditionIs(this.status.conditions, 'Unschedulable'))
      this.setCondition('Unschedulable', 'False', 'Suspended', 'the run is suspended: it has no pods to schedule');
  }

  private finished(): void {
    const policy = this.run.spec.runPolicy;
    // As Kueue's job integrations do: a finished job's Workload is marked Finished, and its quota released.
    const workload = this.options.kueue ? this.ownWorkload() : undefined;
    if (workload && !isFinished(workload) && workload.metadata.resourceVersion) {
      const succeeded = this.status.phase === 'Succeeded';
      const last = this.status.conditions?.find((c) => c.type === (succeeded ? 'Succeeded' : 'Failed'));
      this.actions.push({
        kind: 'write-workload-status',
        name: workload.metadata.name,
        resourceVersion: workload.metadata.resourceVersion,
        conditions: withWorkloadCondition(
          workload.status?.conditions ?? [],
          {
            type: 'Finished',
            status: 'True',
            reason: succeeded ? 'Succeeded' : 'Failed',
            message: (last?.message ?? `the TrainingRun ${this.status.phase?.toLowerCase() ?? 'ended'}`).slice(0, 32768)
          },
          this.nowIso
        ),
        clearAdmission: false,
        why: `the run ${this.status.phase}`
      });
    }
    for (const pod of this.observed.pods) {
      if (pod.metadata?.deletionTimestamp) continue;
      if (policy.cleanPodPolicy === 'All' || (policy.cleanPodPolicy === 'Running' && !isTerminal(pod)))
        this.deletePod(pod, `runPolicy.cleanPodPolicy is ${policy.cleanPodPolicy}`);
    }
    if (policy.ttlSecondsAfterFinished !== undefined && this.status.completionTime) {
      const expiry = Date.parse(this.status.completionTime) + policy.ttlSecondsAfterFinished * 1000;
      if (expiry <= this.now.getTime())
        this.actions.push({
          kind: 'delete-run',
          why: `finished more than runPolicy.ttlSecondsAfterFinished (${policy.ttlSecondsAfterFinished}s) ago`
        });
      else this.timers.push(seconds(expiry - this.now.getTime()));
    }
  }

  // ---- transitions -------------------------------------------------------------------------------------

  private startAttempt(reason: 'Started' | 'Resumed' | 'Restarted'): void {
    this.status.attempt = (this.status.attempt ?? 0) + 1;
    // Kubernetes Job semantics, which Kueue relies on: activeDeadlineSeconds counts from the latest start or
    // resume, so time spent suspended (queued, preempted) does not use it up. A gang restart keeps counting.
    if (reason !== 'Restarted' || !this.status.startTime) this.status.startTime = this.nowIso;
    // The progress clock restarts with every attempt: pulling images and rendezvous count against it (waiting
    // for nodes does not, see waitForNodes).
    this.status.lastProgressTime = this.nowIso;
    // Whether this attempt's gang waits for nodes is for its own pods to say, and its wait is told anew.
    if (this.status.conditions)
      this.status.conditions = this.status.conditions.filter((c) => c.type !== 'Unschedulable');
    // A new attempt's coordinator ingests afresh (skipping stored shards), counting from zero again.
    delete this.status.ingest;
    // A run created suspended (a queue admitting it later) starts rather than resumes, but is unsuspended all the same.
    if (this.previousPhase === 'Suspended')
      this.setCondition(
        'Suspended',
        'False',
        reason === 'Resumed' ? 'Resumed' : 'Admitted',
        'spec.runPolicy.suspend is false'
      );
    if (reason === 'Resumed') {
      this.event('Normal', 'Resumed', `resumed as attempt ${this.status.attempt} from the last checkpoint`);
    } else if (reason === 'Started') {
      this.event('Normal', 'Started', `attempt 1 of ${describeWorkers(this.run)}`);
    }
  }

  /** `knownRank`: the failed process's own rank, where the coordinator named it (a pod may run several). */
  private failure(pod: V1Pod | undefined, verdict: FailureVerdict, knownRank?: number): void {
    const label = pod?.metadata?.labels?.[LABEL_RANK];
    const rank = knownRank ?? (label !== undefined ? globalRank(this.run.spec.workers, Number(label), 0) : undefined);
    this.status.lastFailure = {
      pod: pod?.metadata?.name ?? names.coordinatorPod(this.run.metadata.name),
      // The pod's label is its index; with several ranks per pod, the first of its ranks unless known.
      ...(rank !== undefined ? { rank } : {}),
      ...(verdict.exitCode !== undefined ? { exitCode: verdict.exitCode } : {}),
      reason: verdict.reason,
      message: verdict.message,
      retryable: verdict.retryable,
      countedAgainstBackoffLimit: verdict.retryable && verdict.counted,
      time: this.nowIso
    };
    const where = pod ? `pod ${pod.metadata?.name}` : 'the gang';
    if (!verdict.retryable) {
      this.fail(verdict.reason, `${where}: ${verdict.message} (not retryable)`);
      return;
    }
    const restarts = this.status.restarts ?? 0;
    const limit = this.run.spec.runPolicy.backoffLimit;
    if (verdict.counted && restarts >= limit) {
      this.fail(
        'BackoffLimitExceeded',
        `${where}: ${verdict.message}; runPolicy.backoffLimit (${limit}) restarts already used`
      );
      return;
    }
    if (verdict.counted) this.status.restarts = restarts + 1;
    const from = this.status.attempt ?? 1;
    this.startAttempt('Restarted');
    for (const p of this.currentPods(from)) this.deletePod(p, `gang restart after ${verdict.reason}`);
    const counted = verdict.counted
      ? `restart ${this.status.restarts} of ${limit}`
      : 'not counted against backoffLimit';
    const message = `attempt ${this.status.attempt} after ${where}: ${verdict.message} (${counted}); resuming from the last checkpoint`;
    this.setPhase('Restarting', message, 'Warning', 'GangRestart', true);
    this.setCondition('Restarting', 'True', verdict.reason, message);
    this.setCondition('Running', 'False', verdict.reason, message);
    this.status.readyWorkers = 0;
  }

  private fail(reason: string, message: string): void {
    this.status.completionTime = this.nowIso;
    this.setPhase('Failed', message, 'Warning', reason);
    this.setCondition('Failed', 'True', reason, message);
    this.setCondition('Running', 'False', reason, message);
    this.finished();
  }

  private succeed(coordinator: V1Pod): void {
    this.copyPlan();
    this.copyProgress();
    this.status.completionTime = this.nowIso;
    this.status.modelUri = `${this.run.spec.output.uri.replace(/\/+$/, '')}/model`;
    // How the run ended, when the coordinator said (its termination message): early stopping names its reason.
    const ended = (coordinator.status?.containerStatuses ?? [])
      .map((container) => container.state?.terminated?.message?.trim())
      .find((text) => text !== undefined && text !== '');
    const message = `${ended ?? 'training finished'}; the model is at ${this.status.modelUri}`;
    this.setPhase('Succeeded', message);
    this.setCondition('Succeeded', 'True', 'CoordinatorSucceeded', message);
    this.setCondition('Running', 'False', 'Succeeded', message);
    this.finished();
  }

  // ---- helpers -----------------------------------------------------------------------------------------

  /**
   * A gang that waits for the scheduler to place its pods: the Unschedulable condition says so in the
   * scheduler's words while it lasts (and is cleared once no pod waits), a Warning event once as the wait
   * begins, and runPolicy.scheduleTimeoutSeconds bounds it. Returns true when that timeout failed the run.
   */
  private waitForNodes(attempt: number, unschedulable: readonly UnschedulablePod[]): boolean {
    const waitedBefore = conditionIs(this.status.conditions, 'Unschedulable');
    if (unschedulable.length === 0) {
      if (waitedBefore)
        this.setCondition(
          'Unschedulable',
          'False',
          'Scheduled',
          `attempt ${attempt}: the scheduler found nodes for the gang's pods`
        );
      return false;
    }
    const what = describeUnschedulable(unschedulable);
    const timeout = this.run.spec.runPolicy.scheduleTimeoutSeconds;
    if (timeout !== undefined) {
      // The pod's own condition dates the wait: when the scheduler first found no node for it.
      const since = Math.min(
        ...unschedulable.map(({ pod, condition }) => {
          const time = timeOf(condition.lastTransitionTime ?? pod.metadata?.creationTimestamp);
          return Number.isFinite(time) ? time : this.now.getTime();
        })
      );
      const deadline = since + timeout * 1000;
      if (deadline <= this.now.getTime()) {
        this.fail(
          'SchedulingTimeout',
          `attempt ${attempt}: the gang was not scheduled within runPolicy.scheduleTimeoutSeconds (${timeout}s): ${what}`
        );
        return true;
      }
      this.timers.push(seconds(deadline - this.now.getTime()));
    }
    const first = unschedulable[0]?.condition;
    const gated = first?.reason === 'SchedulingGated';
    const message = `attempt ${attempt}: ${what}; waiting for ${gated ? 'admission' : 'capacity'}, which does not count toward runPolicy.progressDeadlineSeconds`;
    this.setCondition(
      'Unschedulable',
      'True',
      gated
        ? 'SchedulingGated'
        : /\bInsufficient\b/.test(first?.message ?? '')
          ? 'InsufficientResources'
          : 'Unschedulable',
      message
    );
    // A gate is a queue doing its job, not a cluster short of something.
    if (!waitedBefore) this.event(gated ? 'Normal' : 'Warning', gated ? 'SchedulingGated' : 'Unschedulable', message);
    return false;
  }

  private ensureChildren(attempt: number): void {
    const run = this.run;
    const cluster = this.options.cluster ?? {};
    // First, so that where a controller enforces NetworkPolicies no pod of the run is ever reachable by others.
    if (cluster.networkPolicies !== false && !this.observed.networkPolicyExists)
      this.create(buildNetworkPolicy(run, cluster));
    if (!this.observed.secretExists) this.create(buildSecret(run, this.options.token, this.options.tls));
    if (!this.observed.configMapExists) this.create(buildConfigMap(run, this.options.cluster));
    for (const service of [buildCoordinatorService(run), buildWorkersService(run)]) {
      if (!this.observed.serviceNames.includes(service.metadata?.name ?? '')) this.create(service);
    }
    // Before its pods: the coscheduling plugin holds a pod whose PodGroup it does not know.
    const podGroup = wantsPodGroup(run) ? this.options.podGroups : undefined;
    if (podGroup && !this.observed.podGroupExists) this.create(buildPodGroup(run));
    const present = new Set(this.observed.pods.map((p) => p.metadata?.name));
    const wanted = [
      buildCoordinatorPod(run, attempt),
      ...Array.from({ length: run.spec.workers.replicas }, (_, rank) =>
        buildWorkerPod(run, rank, attempt, this.options.cluster)
      )
    ];
    // A name still held by a pod of an earlier attempt (Terminating) is created on a later pass.
    for (const pod of wanted) {
      if (present.has(pod.metadata?.name)) continue;
      const placement = this.placements?.get(podSetOf(pod));
      const placed = placement ? withAdmittedPlacement(pod, placement) : pod;
      this.create(podGroup ? withPodGroup(placed, run, podGroup.schedulerName) : placed);
    }
  }

  /** The plan reaches the status, and once per run an event, so `kubectl describe tr` explains the run. */
  private copyPlan(): void {
    const plan = this.observed.plan;
    if (!plan) return;
    if (this.status.plan?.summary !== plan.summary) this.event('Normal', 'Planned', plan.summary);
    this.status.plan = { ...plan };
  }

  private copyProgress(): void {
    const progress = this.observed.progress;
    if (!progress) return;
    // A step that moves is progress, backwards too: an attempt resumed from its checkpoint redoes the steps
    // after it, below the step the status shows from the attempt before.
    if (progress.step !== this.status.step) {
      this.status.lastProgressTime = this.nowIso;
      this.setCondition('Stalled', 'False', 'Progressing', `step ${progress.step} reported`);
    }
    this.status.epoch = progress.epoch;
    this.status.step = progress.step;
    if (progress.loss !== undefined) this.status.loss = progress.loss;
    if (progress.accuracy !== undefined) this.status.accuracy = progress.accuracy;
    if (progress.imagesPerSecond !== undefined) this.status.imagesPerSecond = progress.imagesPerSecond;
    if (progress.lastCheckpoint) this.status.lastCheckpoint = { ...progress.lastCheckpoint };
  }

  /**
   * An ingest that moves is progress: a large dataset can take longer to ingest than progressDeadlineSeconds
   * allows between steps, and a gang restart would only start its ingest again. One that stops moving stalls.
   */
  private copyIngestProgress(): void {
    const ingest = this.observed.ingest;
    if (!ingest) return;
    const before = this.status.ingest;
    if (!before || ingest.imagesDone > before.imagesDone || ingest.shardsWritten > before.shardsWritten) {
      this.status.lastProgressTime = this.nowIso;
      this.setCondition(
        'Stalled',
        'False',
        'Ingesting',
        `ingesting the dataset: ${ingest.imagesDone} of ${ingest.imagesTotal} images, ${ingest.shardsWritten} shards written`
      );
    }
    this.status.ingest = {
      imagesDone: ingest.imagesDone,
      imagesTotal: ingest.imagesTotal,
      shardsWritten: ingest.shardsWritten
    };
  }

  private forceDeleteStuckPods(): void {
    const grace = (this.options.forceDeleteAfterSeconds ?? 300) * 1000;
    for (const pod of this.observed.pods) {
      const since = pod.metadata?.deletionTimestamp;
      if (!since) continue;
      const due = new Date(since).getTime() + grace;
      if (due <= this.now.getTime()) {
        this.actions.push({
          kind: 'delete-pod',
          name: pod.metadata?.name ?? '',
          force: true,
          why: 'stuck Terminating (its node is likely gone)'
        });
        this.event(
          'Warning',
          'ForceDeleted',
          `pod ${pod.metadata?.name} was Terminating for more than ${grace / 1000}s; force-deleted`
        );
      } else {
        this.timers.push(seconds(due - this.now.getTime()));
      }
    }
  }

  /**
   * A pod of a gang that was running and is now terminating or gone without having failed: someone deleted
   * it (kubectl delete, a drain, the taint manager on a lost node). The ring has a hole, so this is a
   * disruption like an eviction, not a reason to recreate that one pod.
   */
  private vanishedPod(attempt: number): V1Pod | undefined {
    const run = this.run.metadata.name;
    const expected = [
      { name: names.coordinatorPod(run), labels: { [LABEL_ROLE]: 'coordinator' } },
      ...Array.from({ length: this.run.spec.workers.replicas }, (_, rank) => ({
        name: names.workerPod(run, rank),
        labels: { [LABEL_ROLE]: 'worker', [LABEL_RANK]: String(rank) }
      }))
    ];
    for (const { name, labels } of expected) {
      const pod = this.observed.pods.find((p) => p.metadata?.name === name && attemptOf(p) === attempt);
      if (!pod) return { metadata: { name, labels } };
      if (pod.metadata?.deletionTimestamp) return pod;
    }
    return undefined;
  }

  /**
   * The first worker pod of this attempt that the coordinator declared hung. A verdict from before the last
   * restart (read from the previous attempt's coordinator while it terminates) is not about these pods.
   */
  private hungPod(): { pod: V1Pod; report: HungWorkerReport } | undefined {
    const restartedAt = Date.parse(this.status.lastFailure?.time ?? '');
    for (const report of [...(this.observed.hung ?? [])].sort((a, b) => a.rank - b.rank)) {
      if (Number.isFinite(restartedAt) && !(Date.parse(report.since) > restartedAt)) continue;
      const pod = this.workerPods().find((p) => runsWorker(p.metadata?.name ?? '', report.workerId));
      if (pod) return { pod, report };
    }
    return undefined;
  }

  private currentPods(attempt = this.status.attempt): V1Pod[] {
    return this.observed.pods.filter((p) => attemptOf(p) === attempt && !p.metadata?.deletionTimestamp);
  }

  private workerPods(): V1Pod[] {
    return this.currentPods().filter((p) => p.metadata?.labels?.[LABEL_ROLE] === 'worker');
  }

  private deletePod(pod: V1Pod, why: string): void {
    const name = pod.metadata?.name ?? '';
    if (this.actions.some((a) => a.kind === 'delete-pod' && a.name === name)) return;
    this.actions.push({ kind: 'delete-pod', name, force: false, why });
  }

  private create(object: ChildObject): void {
    this.actions.push({ kind: 'create', object });
  }

  /** Events mark transitions; `always` is for a transition into the same phase (a second gang restart). */
  private setPhase(
    phase: Phase,
    message: string,
    type: RunEvent['type'] = 'Normal',
    reason: string = phase,
    always = false
  ): void {
    this.status.phase = phase;
    if (always || phase !== this.previousPhase) this.event(type, reason, message);
  }

  private setCondition(type: ConditionType, status: 'True' | 'False', reason: string, message: string): void {
    this.status.conditions = setCondition(
      this.status.conditions,
      { type, status, reason, message, observedGeneration: this.run.metadata.generation },
      this.nowIso
    );
  }

  private event(type: RunEvent['type'], reason: string, message: string): void {
    this.events.push({ type, reason, message });
  }
}

/** metav1.Time as Kueue writes it: RFC 3339 in whole seconds. */
const kubeTime = (time: string | Date): string => new Date(time).toISOString().replace(/\.\d+Z$/, 'Z');

/** A Workload's conditions with one set in the metav1.Condition way (lastTransitionTime moves when status flips). */
function withWorkloadCondition(
  conditions: readonly WorkloadCondition[],
  update: { type: string; status: 'True' | 'False'; reason: string; message: string },
  now: string
): WorkloadCondition[] {
  const previous = conditions.find((c) => c.type === update.type);
  const next: WorkloadCondition = {
    ...update,
    lastTransitionTime:
      previous && previous.status === update.status && previous.lastTransitionTime !== undefined
        ? kubeTime(previous.lastTransitionTime)
        : kubeTime(now)
  };
  return [
    ...conditions
      .filter((c) => c.type !== update.type)
      .map((c) => ({
        ...c,
        ...(c.lastTransitionTime !== undefined ? { lastTransitionTime: kubeTime(c.lastTransitionTime) } : {})
      })),
    next
  ];
}

/**
 * After an eviction, once the run's pods are gone: what Kueue's job reconciler writes when it clears a stopped job's
 * admission (QuotaReserved False, reason Pending; Admitted False, NoReservation; Requeued True after a preemption
 * or node failures, when Kueue requeues it at once, else False until Kueue decides).
 */
function requeuedConditions(workload: Workload, eviction: WorkloadCondition, now: string): WorkloadCondition[] {
  const message = eviction.message ?? eviction.reason ?? 'Evicted';
  const requeued = eviction.reason === 'Preempted' || eviction.reason === 'NodeFailures';
  let conditions = withWorkloadCondition(
    workload.status?.conditions ?? [],
    { type: 'Requeued', status: requeued ? 'True' : 'False', reason: eviction.reason ?? 'Evicted', message },
    now
  );
  conditions = withWorkloadCondition(
    conditions,
    { type: 'QuotaReserved', status: 'False', reason: 'Pending', message },
    now
  );
  return withWorkloadCondition(
    conditions,
    { type: 'Admitted', status: 'False', reason: 'NoReservation', message: 'The workload has no reservation' },
    now
  );
}

/**
 * `pod <name> (and N more) cannot be scheduled: <what the scheduler said>`, or `... is held by scheduling gates
 * (<gates>)`, bounded for a condition or event.
 */
function describeUnschedulable(unschedulable: readonly UnschedulablePod[]): string {
  const [first] = unschedulable;
  const more = unschedulable.length > 1 ? ` (and ${unschedulable.length - 1} more)` : '';
  const name = first?.pod.metadata?.name ?? 'a pod';
  if (first?.condition.reason === 'SchedulingGated') {
    const gates = (first.pod.spec?.schedulingGates ?? []).map((gate) => gate.name).join(', ');
    return `pod ${name}${more} is held by scheduling gates${gates ? ` (${gates.slice(0, 1024)})` : ''}`;
  }
  const said = first?.condition.message ? `: ${first.condition.message.slice(0, 1024)}` : '';
  return `pod ${name}${more} cannot be scheduled${said}`;
}

/**
 * Whether pod `podName` runs the coordinator's worker `workerId`: the pod's own name with one rank per pod, or
 * `<pod name>-<local rank>` for each process of a pod that runs several (`ringtrain worker`'s launcher).
 */
export function runsWorker(podName: string, workerId: string): boolean {
  if (podName === '') return false;
  const local = workerId.startsWith(`${podName}-`) ? workerId.slice(podName.length + 1) : '';
  return workerId === podName || /^\d+$/.test(local);
}

/** `3 workers`, or `2 worker pods × 2 ranks` when pods run several ranks. */
function describeWorkers(run: TrainingRun): string {
  const { replicas } = run.spec.workers;
  const perPod = ranksPerPod(run.spec.workers);
  return perPod > 1 ? `${replicas} worker pods × ${perPod} ranks` : `${replicas} workers`;
}

/** The coordinator first, then workers by rank: the first failure reported is the most telling one. */
function byRoleAndRank(a: V1Pod, b: V1Pod): number {
  const key = (p: V1Pod) =>
    p.metadata?.labels?.[LABEL_ROLE] === 'coordinator' ? -1 : Number(p.metadata?.labels?.[LABEL_RANK] ?? 0);
  return key(a) - key(b);
}
