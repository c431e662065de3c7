import { isDeepStrictEqual } from 'node:util';
import type { V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { OPERATOR_MANAGER } from '../api/group-version.js';
import type { TrainingRun } from '../api/training-run.js';
import { validateTrainingRun } from '../api/validate.js';
import { outputConflict } from '../reconcile/output-ownership.js';
import { planReconcile, type Observed, type Plan, type PlanOptions } from '../reconcile/plan.js';
import { mintsCredentials, withMintedCredentials } from '../resources/storage-credentials.js';
import { LABEL_ROLE, LABEL_RUN, names } from '../resources/names.js';
import type { RunIdentityIssuer } from '../resources/run-identity.js';
import type { ClusterSettings } from '../resources/templates.js';
import type { Informer } from './informer.js';
import { podGroupName, wantsPodGroup } from '../resources/pod-group.js';
import { statusCodeOf, type KubeApi, type RawRun, type RawWorkload } from './kube-api.js';
import {
  WorkloadSchema,
  admittedFlavorNames,
  isAdmitted,
  queueNameOf,
  runPriorityClassName,
  workloadName,
  type ResourceFlavor,
  type Workload
} from '../resources/kueue.js';
import type { OperatorMetrics } from './metrics.js';
import type { ProgressSource } from './progress.js';
import { StorageCredentialsMinter, type StoreAdmin } from './storage-credentials-minter.js';

export interface ReconcilerOptions {
  readonly api: KubeApi;
  readonly runs: Informer<RawRun>;
  readonly pods: Informer<V1Pod>;
  /** With Kueue (`--kueue`): the runs' Workloads; runs labelled kueue.x-k8s.io/queue-name wait for admission. */
  readonly workloads?: Informer<RawWorkload>;
  /** PodGroups for runs that ask for gang scheduling (`--pod-group-scheduler`): PlanOptions.podGroups. */
  readonly podGroups?: { readonly schedulerName: string };
  readonly progress: ProgressSource;
  readonly metrics: OperatorMetrics;
  readonly logger: Logger;
  readonly forceDeleteAfterSeconds?: number;
  readonly pollProgressSeconds?: number;
  readonly cluster?: ClusterSettings;
  /** Events' source component. */
  readonly component?: string;
  /** Issues each run's token and TLS identity (see RunIdentityIssuer). */
  readonly identity: RunIdentityIssuer;
  /** The cluster's store and its admin credential: runs on it get credentials minted for their own prefixes. */
  readonly storeAdmin?: StoreAdmin;
}

export interface ReconcileResult {
  readonly requeueAfterMs?: number;
}

/**
 * Executes planReconcile's decisions for one run key (`namespace/name`). Order matters: the status goes
 * first, guarded by resourceVersion, so a decision made from a stale cache is refused (409) before any pod
 * is touched; the actions that follow are idempotent (AlreadyExists and NotFound count as done).
 */
export class Reconciler {
  private readonly invalidReported = new Map<string, number | undefined>();
  /**
   * Runs (by uid) whose token Secret this process created or found already there (a 409 on create). The
   * operator never reads a Secret: `get` on secrets would let it read every Secret it can see (the whole
   * cluster, for an operator watching all namespaces), only to learn that its own token exists. So it tries to
   * create the token once per run per process instead, and remembers.
   */
  private readonly tokens = new Set<string>();

  private readonly minter: StorageCredentialsMinter | undefined;
  /** The last minting failure said per run (by uid), so a retry in backoff does not repeat the event. */
  private readonly mintFailures = new Map<string, string>();

  constructor(private readonly options: ReconcilerOptions) {
    this.minter = options.storeAdmin
      ? new StorageCredentialsMinter(options.storeAdmin, (secret) => options.api.putSecret(secret))
      : undefined;
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const { api, logger } = this.options;
    const raw = this.options.runs.get(key);
    if (!raw || raw.metadata?.deletionTimestamp) return {}; // gone: owner references let the garbage collector clean up
    const managedBy = (raw.spec as { managedBy?: unknown } | undefined)?.managedBy;
    if (managedBy !== undefined && managedBy !== OPERATOR_MANAGER) return {};
    const validated = validateTrainingRun(raw);
    if (!validated.ok) {
      // The API server validates with the same schema, so this is an object stored before the CRD changed.
      const generation = raw.metadata?.generation;
      if (this.invalidReported.get(key) !== generation) {
        this.invalidReported.set(key, generation);
        logger.warn({ run: key, errors: validated.errors }, 'invalid TrainingRun; fix its spec');
        await this.options.api
          .recordEvent(
            {
              metadata: {
                name: raw.metadata?.name ?? '',
                ...(raw.metadata?.namespace ? { namespace: raw.metadata.namespace } : {}),
                ...(raw.metadata?.uid ? { uid: raw.metadata.uid } : {}),
                ...(raw.metadata?.resourceVersion ? { resourceVersion: raw.metadata.resourceVersion } : {})
              }
            },
            {
              type: 'Warning',
              reason: 'InvalidSpec',
              message: validated.errors.map((e) => `${e.path}: ${e.message}`).join('; ')
            },
            this.component
          )
          .catch(() => undefined);
      }
      return {};
    }
    // On the cluster's store, the pods mount the run's minted credentials (spec.storage.credentialsSecretRef).
    const run = withMintedCredentials(validated.run, this.options.storeAdmin);
    const namespace = run.metadata.namespace ?? 'default';
    const pods = this.options.pods
      .list()
      .filter((p) => p.metadata?.namespace === namespace && p.metadata?.labels?.[LABEL_RUN] === run.metadata.name)
      .filter((p) => (p.metadata?.ownerReferences ?? []).some((o) => o.uid === run.metadata.uid));
    // With --network-policies=false the operator never reads one (nor may it, with the chart's RBAC).
    const networkPolicies = this.options.cluster?.networkPolicies !== false;
    const [coordinatorService, workersService, secretExists, configMapExists, networkPolicyExists] = await Promise.all([
      api.exists('Service', namespace, names.coordinatorService(run.metadata.name)),
      api.exists('Service', namespace, names.workersService(run.metadata.name)),
      Promise.resolve(this.tokens.has(run.metadata.uid ?? '')),
      api.exists('ConfigMap', namespace, names.configMap(run.metadata.name)),
      networkPolicies
        ? api.exists('NetworkPolicy', namespace, names.networkPolicy(run.metadata.name))
        : Promise.resolve(false)
    ]);
    const coordinatorRunning = pods.some(
      (p) => p.metadata?.labels?.[LABEL_ROLE] === 'coordinator' && p.status?.phase === 'Running'
    );
    const report = coordinatorRunning ? await this.options.progress(run) : undefined;
    const { workload, flavors, priorityClassValue } = await this.observeWorkload(run);
    const podGroupExists =
      this.options.podGroups && wantsPodGroup(run) ? await api.podGroupExists(namespace, podGroupName(run)) : undefined;
    const observed: Observed = {
      pods,
      serviceNames: [
        ...(coordinatorService ? [names.coordinatorService(run.metadata.name)] : []),
        ...(workersService ? [names.workersService(run.metadata.name)] : [])
      ],
      secretExists,
      configMapExists,
      networkPolicyExists,
      ...(report?.progress ? { progress: report.progress } : {}),
      ...(report?.ingest ? { ingest: report.ingest } : {}),
      ...(report?.plan ? { plan: report.plan } : {}),
      ...(report?.hung ? { hung: report.hung } : {}),
      ...(report?.unreadable ? { statusUnreadable: report.unreadable } : {}),
      ...(workload ? { workload } : {}),
      ...(flavors ? { flavors } : {}),
      ...(priorityClassValue !== undefined ? { priorityClassValue } : {}),
      ...(podGroupExists !== undefined ? { podGroupExists } : {})
    };
    const now = new Date();
    const planOptions: PlanOptions = {
      token: this.options.identity.token(run),
      ...(this.options.forceDeleteAfterSeconds !== undefined
        ? { forceDeleteAfterSeconds: this.options.forceDeleteAfterSeconds }
        : {}),
      ...(this.options.pollProgressSeconds !== undefined
        ? { pollProgressSeconds: this.options.pollProgressSeconds }
        : {}),
      ...(this.options.cluster !== undefined ? { cluster: this.options.cluster } : {}),
      ...(this.options.workloads ? { kueue: true } : {}),
      ...(this.options.podGroups ? { podGroups: this.options.podGroups } : {}),
      ...this.outputInUse(run)
    };
    let plan = planReconcile(run, observed, now, planOptions);
    // Certificates cost a few milliseconds of signing: issued only for the plan that makes the run's Secret (a
    // finished run's never does, though after a restart this process has not seen its Secret), by planning again.
    if (createsSecret(plan, run))
      plan = planReconcile(run, observed, now, { ...planOptions, tls: await this.options.identity.tls(run) });

    if (plan.status && !isDeepStrictEqual(plan.status, run.status ?? {})) {
      try {
        const updated = await api.writeRunStatus(run, plan.status);
        this.options.metrics.statusWrites.inc();
        this.options.runs.upsert(updated);
      } catch (error) {
        if (statusCodeOf(error) === 409) {
          logger.debug({ run: key }, 'status conflict: the cache was stale; reconciling again');
          return { requeueAfterMs: 0 };
        }
        if (statusCodeOf(error) === 404) return {};
        throw error;
      }
    }
    for (const event of plan.events) {
      if (event.reason === 'GangRestart')
        this.options.metrics.gangRestarts.inc({ reason: plan.status?.lastFailure?.reason ?? 'unknown' });
      await api
        .recordEvent(run, event, this.component)
        .catch((error: unknown) => logger.warn({ err: error, run: key }, 'could not record an event'));
    }
    // Before the pods that mount them; renewed while the run may still have pods.
    let renewInMs: number | undefined;
    if (this.minter && mintsCredentials(validated.run, this.options.storeAdmin)) {
      const phase = plan.status?.phase;
      if (phase === 'Succeeded' || phase === 'Failed' || phase === 'Suspended') this.minter.forget(run.metadata.uid);
      else renewInMs = await this.mintCredentials(run);
    }
    for (const action of plan.actions) {
      if (action.kind === 'create') {
        const result = await api.create(action.object);
        if (action.object.kind === 'Secret') this.tokens.add(run.metadata.uid ?? '');
        logger.debug({ run: key, kind: action.object.kind, name: action.object.metadata?.name, result }, 'create');
      } else if (action.kind === 'delete-pod') {
        await api.deletePod(namespace, action.name, action.force);
        logger.info({ run: key, pod: action.name, force: action.force, why: action.why }, 'deleted pod');
      } else if (action.kind === 'delete-run') {
        await api.deleteRun(namespace, run.metadata.name);
        logger.info({ run: key, why: action.why }, 'deleted run');
      } else if (action.kind === 'delete-workload') {
        await api.deleteWorkload(namespace, action.name);
        logger.info({ run: key, workload: action.name, why: action.why }, 'deleted workload');
      } else {
        // A 409 (Kueue wrote the Workload since the informer's copy) fails this reconcile: retried with backoff.
        await api.writeWorkloadStatus(
          namespace,
          action.name,
          action.resourceVersion,
          action.conditions,
          action.clearAdmission
        );
        logger.info({ run: key, workload: action.name, why: action.why }, 'wrote workload status');
      }
    }
    const requeues = [plan.requeueAfterSeconds === undefined ? undefined : plan.requeueAfterSeconds * 1000, renewInMs];
    const requeueAfterMs = Math.min(...requeues.filter((ms): ms is number => ms !== undefined));
    return Number.isFinite(requeueAfterMs) ? { requeueAfterMs } : {};
  }

  /**
   * The run's storage credentials, due or not; a failure (the store down, the admin credential wrong, a policy
   * too long) is said once per distinct reason as a Warning event on the run, then retried with backoff.
   */
  private async mintCredentials(run: TrainingRun): Promise<number | undefined> {
    const uid = run.metadata.uid ?? '';
    try {
      const renewInMs = await this.minter?.ensure(run);
      this.mintFailures.delete(uid);
      return renewInMs;
    } catch (error) {
      const message = `cannot mint the run's storage credentials; retrying: ${error instanceof Error ? error.message : String(error)}`;
      if (this.mintFailures.get(uid) !== message) {
        this.mintFailures.set(uid, message);
        await this.options.api
          .recordEvent(run, { type: 'Warning', reason: 'StorageCredentialsFailed', message }, this.component)
          .catch(() => undefined);
      }
      throw error;
    }
  }

  /**
   * The run's Workload from the informer, and while it is admitted and the run not over, the ResourceFlavors its
   * admission names (read each time: pods created later must land on them, and a flavor's labels may change).
   */
  private async observeWorkload(
    run: TrainingRun
  ): Promise<{ workload?: Workload; flavors?: ReadonlyMap<string, ResourceFlavor>; priorityClassValue?: number }> {
    if (!this.options.workloads || queueNameOf(run) === undefined) return {};
    const raw = this.options.workloads.get(`${run.metadata.namespace ?? 'default'}/${workloadName(run)}`);
    // A Workload to create, or to compare with while queued: with the value of the run's PriorityClass.
    const holdsNoQuota = !raw || !(raw.status as { admission?: unknown } | undefined)?.admission;
    const priorityClass = runPriorityClassName(run);
    const priorityClassValue =
      holdsNoQuota && priorityClass !== undefined
        ? await this.options.api.readPriorityClassValue(priorityClass)
        : undefined;
    const priority = priorityClassValue === undefined ? {} : { priorityClassValue };
    if (!raw) return priority;
    const parsed = WorkloadSchema.safeParse(raw);
    if (!parsed.success) {
      this.options.logger.warn({ workload: raw.metadata?.name, err: parsed.error }, 'unreadable Workload; ignored');
      return {};
    }
    const workload = parsed.data;
    const phase = run.status?.phase;
    if (!isAdmitted(workload) || phase === 'Succeeded' || phase === 'Failed') return { workload, ...priority };
    const flavors = new Map<string, ResourceFlavor>();
    for (const name of admittedFlavorNames(workload)) {
      const flavor = await this.options.api.readResourceFlavor(name);
      if (flavor) flavors.set(name, flavor);
    }
    return { workload, flavors };
  }

  /** Before a run's first attempt: whether another run it knows owns where this one would write. */
  private outputInUse(run: TrainingRun): { outputInUse?: string } {
    if (run.status?.attempt !== undefined) return {};
    const others = this.options.runs.list().flatMap((raw) => {
      const other = validateTrainingRun(raw);
      return other.ok ? [other.run] : [];
    });
    const conflict = outputConflict(run, others);
    return conflict === undefined ? {} : { outputInUse: conflict };
  }

  private get component(): string {
    return this.options.component ?? 'ringtrain-operator';
  }
}

function createsSecret(plan: Plan, run: TrainingRun): boolean {
  return plan.actions.some(
    (action) =>
      action.kind === 'create' &&
      action.object.kind === 'Secret' &&
      action.object.metadata?.name === names.secret(run.metadata.name)
  );
}
