import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { hostname } from 'node:os';
import { KubeConfig, type V1Pod } from '@kubernetes/client-node';
import pino, { type Logger } from 'pino';
import { LABEL_RUN } from '../resources/names.js';
import type { ClusterSettings } from '../resources/templates.js';
import { Informer, objectKey } from './informer.js';
import { KubeApi, statusCodeOf, type RawRun, type RawWorkload } from './kube-api.js';
import { LeaderElector } from './leader-election.js';
import { OperatorMetrics } from './metrics.js';
import { RunIdentityIssuer } from '../resources/run-identity.js';
import { httpProgressSource, type ProgressSource } from './progress.js';
import { Reconciler } from './reconciler.js';
import type { StoreAdmin } from './storage-credentials-minter.js';
import { WorkQueue } from './work-queue.js';

export interface OperatorOptions {
  /** Defaults to the in-cluster service account, or $KUBECONFIG / ~/.kube/config outside a cluster. */
  readonly kubeConfig?: KubeConfig;
  /** Watch one namespace only; all namespaces when unset. */
  readonly namespace?: string;
  /** Where the leader Lease lives. */
  readonly leaseNamespace?: string;
  readonly leaseName?: string;
  readonly identity?: string;
  readonly leaseDurationSeconds?: number;
  readonly renewDeadlineSeconds?: number;
  readonly retryPeriodSeconds?: number;
  /** Port of /healthz, /readyz and /metrics; 0 picks a free one (read `httpPort`), null serves none. */
  readonly httpPort?: number | null;
  readonly httpHost?: string;
  /** Runs reconciled at once. */
  readonly concurrency?: number;
  readonly forceDeleteAfterSeconds?: number;
  /** How often a running coordinator's /status is read (default 15 s). */
  readonly pollProgressSeconds?: number;
  /** host:port of the cluster's dataset service, handed to every run's workers for their epoch plans. */
  readonly datasetService?: string;
  /** GPU resource for runs that name none in spec.workers.gpu.resourceName (default nvidia.com/gpu). */
  readonly defaultGpuResource?: string;
  /** False: create no per-run NetworkPolicy (default true). */
  readonly networkPolicies?: boolean;
  /**
   * Kueue admits runs labelled `kueue.x-k8s.io/queue-name`, through a Workload per run (Kueue's CRDs must be
   * installed). Off by default: the operator then never reads nor writes Kueue's objects, and the label is a label.
   */
  readonly kueue?: boolean;
  /**
   * The scheduler that runs the coscheduling plugin (scheduler-plugins): runs with runPolicy.gangScheduling.podGroup
   * get a PodGroup and their pods this scheduler, unless they name another. Unset: such runs fail before they start.
   */
  readonly podGroupScheduler?: string;
  /** Which URIs a spec may name (default DEFAULT_URI_POLICY: s3:// only). */
  readonly uriPolicy?: ClusterSettings['uriPolicy'];
  /** More than each run's NetworkPolicy lets its pods reach. */
  readonly runEgress?: ClusterSettings['runEgress'];
  /** The operator's own pods, whose reads of /status the per-run NetworkPolicy lets in (unset: any source). */
  readonly operatorPods?: ClusterSettings['operatorPods'];
  /** The cluster's object store and its admin credential: the operator mints per-run credentials on it. */
  readonly storeAdmin?: StoreAdmin;
  readonly progress?: ProgressSource;
  /**
   * Derives each run's token and TLS identity from the operator key (`--identity-key-file`). Default: a key of this
   * process only, so that after a restart the operator no longer reads the /status of runs it started before.
   */
  readonly runIdentity?: RunIdentityIssuer;
  readonly logger?: Logger;
  /** Called when the operator can no longer work (lease lost, caches cannot sync): the process should exit. */
  readonly onLostLeadership?: (reason: Error) => void;
  /** Tests run several operators in one process: skip process-wide default metrics. */
  readonly processMetrics?: boolean;
}

export interface RunningOperator {
  readonly identity: string;
  readonly httpPort: number | undefined;
  readonly metrics: OperatorMetrics;
  isLeader(): boolean;
  /** Resolves once this instance leads and its caches have synced. */
  readonly leading: Promise<void>;
  /** Graceful: stops taking work, lets running reconciles finish, releases the lease. */
  stop(): Promise<void>;
}

export function defaultKubeConfig(): KubeConfig {
  const config = new KubeConfig();
  config.loadFromDefault();
  return config;
}

/**
 * The operator process: /healthz and /metrics at once, then a Lease campaign; the leader lists and watches
 * TrainingRuns and their pods and reconciles each changed run through a rate-limited work queue.
 */
export async function startOperator(options: OperatorOptions = {}): Promise<RunningOperator> {
  const logger =
    options.logger ?? pino({ base: { service: 'operator' }, level: process.env.RINGTRAIN_LOG_LEVEL ?? 'info' });
  const api = new KubeApi(options.kubeConfig ?? defaultKubeConfig());
  const metrics = new OperatorMetrics(options.processMetrics ?? true);
  const identity = options.identity ?? `${hostname()}_${randomBytes(4).toString('hex')}`;
  const queue = new WorkQueue();
  let synced = false;
  let stopping = false;

  const runs = new Informer<RawRun>({
    resource: 'trainingruns',
    list: () => api.listRuns(options.namespace),
    watchPath: api.runsPath(options.namespace),
    watch: api.watch,
    onChange: (run) => queue.add(objectKey(run)),
    onRelist: (reason) => metrics.relists.inc({ resource: 'trainingruns', reason }),
    logger
  });
  const pods = new Informer<V1Pod>({
    resource: 'pods',
    list: () => api.listPods(options.namespace),
    watchPath: api.podsPath(options.namespace),
    watchQuery: { labelSelector: api.podSelector },
    watch: api.watch,
    onChange: (pod) => {
      const run = pod.metadata?.labels?.[LABEL_RUN];
      if (run) queue.add(`${pod.metadata?.namespace ?? ''}/${run}`);
    },
    onRelist: (reason) => metrics.relists.inc({ resource: 'pods', reason }),
    logger
  });
  const workloads = options.kueue
    ? new Informer<RawWorkload>({
        resource: 'workloads',
        list: () => api.listWorkloads(options.namespace),
        watchPath: api.workloadsPath(options.namespace),
        watchQuery: { labelSelector: LABEL_RUN },
        watch: api.watch,
        onChange: (workload) => {
          const run = workload.metadata?.labels?.[LABEL_RUN];
          if (run) queue.add(`${workload.metadata?.namespace ?? ''}/${run}`);
        },
        onRelist: (reason) => metrics.relists.inc({ resource: 'workloads', reason }),
        logger
      })
    : undefined;
  if (options.runIdentity === undefined)
    logger.warn(
      'no operator key (--identity-key-file): run tokens and certificates derive from a key of this process, so a restarted operator cannot read the /status of the runs it started before'
    );
  const runIdentity = options.runIdentity ?? RunIdentityIssuer.ephemeral();
  const reconciler = new Reconciler({
    identity: runIdentity,
    api,
    runs,
    pods,
    ...(workloads ? { workloads } : {}),
    ...(options.podGroupScheduler ? { podGroups: { schedulerName: options.podGroupScheduler } } : {}),
    progress: options.progress ?? httpProgressSource({ logger, identity: runIdentity }),
    metrics,
    logger,
    ...(options.forceDeleteAfterSeconds !== undefined
      ? { forceDeleteAfterSeconds: options.forceDeleteAfterSeconds }
      : {}),
    ...(options.pollProgressSeconds !== undefined ? { pollProgressSeconds: options.pollProgressSeconds } : {}),
    ...(options.storeAdmin !== undefined ? { storeAdmin: options.storeAdmin } : {}),
    cluster: {
      ...(options.datasetService !== undefined ? { datasetService: options.datasetService } : {}),
      ...(options.defaultGpuResource !== undefined ? { defaultGpuResource: options.defaultGpuResource } : {}),
      ...(options.networkPolicies !== undefined ? { networkPolicies: options.networkPolicies } : {}),
      ...(options.operatorPods !== undefined ? { operatorPods: options.operatorPods } : {}),
      ...(options.uriPolicy !== undefined ? { uriPolicy: options.uriPolicy } : {}),
      ...(options.runEgress !== undefined ? { runEgress: options.runEgress } : {})
    }
  });

  metrics.runs.reset();
  const server =
    options.httpPort === null
      ? undefined
      : await serve(
          options.httpPort ?? 8081,
          options.httpHost ?? '0.0.0.0',
          metrics,
          () => ({ synced, stopping, leader: elector.isLeader }),
          () => {
            metrics.runs.reset();
            for (const run of runs.list()) metrics.runs.inc({ phase: run.status?.phase ?? 'New' });
            metrics.queueDepth.set(queue.length);
          }
        );

  const workers: Promise<void>[] = [];
  const work = async () => {
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      const end = metrics.reconcileSeconds.startTimer();
      try {
        const result = await reconciler.reconcile(key);
        queue.forget(key);
        metrics.reconciles.inc({ result: 'ok' });
        if (result.requeueAfterMs !== undefined) queue.addAfter(key, result.requeueAfterMs);
      } catch (error) {
        const delay = queue.addRateLimited(key);
        metrics.reconciles.inc({ result: 'error' });
        logger.warn({ err: error, run: key, retryInMs: delay }, 'reconcile failed; retrying with backoff');
      } finally {
        end();
        queue.done(key);
      }
    }
  };

  let resolveLeading: () => void = () => undefined;
  let rejectLeading: (error: Error) => void = () => undefined;
  const leading = new Promise<void>((resolve, reject) => {
    resolveLeading = resolve;
    rejectLeading = reject;
  });
  leading.catch(() => undefined);

  const elector = new LeaderElector({
    api,
    namespace: options.leaseNamespace ?? options.namespace ?? 'default',
    name: options.leaseName ?? 'ringtrain-operator',
    identity,
    ...(options.leaseDurationSeconds !== undefined ? { leaseDurationSeconds: options.leaseDurationSeconds } : {}),
    ...(options.renewDeadlineSeconds !== undefined ? { renewDeadlineSeconds: options.renewDeadlineSeconds } : {}),
    ...(options.retryPeriodSeconds !== undefined ? { retryPeriodSeconds: options.retryPeriodSeconds } : {}),
    logger
  });
  elector.run(
    () => {
      metrics.leader.set(1);
      void (async () => {
        try {
          await Promise.all([runs.start(), pods.start(), ...(workloads ? [workloads.start()] : [])]);
          synced = true;
          for (let i = 0; i < (options.concurrency ?? 4); i++) workers.push(work());
          logger.info({ identity, namespace: options.namespace ?? '(all)' }, 'caches synced; reconciling');
          resolveLeading();
        } catch (error) {
          const reason = cannotSync(error);
          logger.error({ err: error }, reason.message);
          rejectLeading(reason);
          options.onLostLeadership?.(reason);
        }
      })();
    },
    () => {
      metrics.leader.set(0);
      runs.stop();
      pods.stop();
      workloads?.stop();
      queue.shutDown();
      options.onLostLeadership?.(
        new Error(
          'lost the leader lease (could not renew it within renewDeadlineSeconds); exiting so a restart campaigns again'
        )
      );
    }
  );

  return {
    identity,
    httpPort: server ? (server.address() as { port: number }).port : undefined,
    metrics,
    isLeader: () => elector.isLeader,
    leading,
    async stop() {
      stopping = true;
      runs.stop();
      pods.stop();
      workloads?.stop();
      queue.shutDown();
      await Promise.all(workers);
      await elector.stop();
      metrics.leader.set(0);
      rejectLeading(new Error('the operator stopped before it became leader'));
      if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  };
}

/** Why the first list failed, said so that the reader knows what to do. */
function cannotSync(error: unknown): Error {
  const status = statusCodeOf(error);
  if (status === 404)
    return new Error(
      `cannot list TrainingRuns (HTTP 404): the CRD is not installed; kubectl apply -f deploy/crds/ringtrain.dev_trainingruns.yaml (with --kueue, Kueue v0.17 or later must be installed too: its Workload CRD, kueue.x-k8s.io/v1beta2)`
    );
  if (status === 403)
    return new Error(
      'cannot list TrainingRuns or pods (HTTP 403): the service account lacks RBAC; grant what docs/operator.md lists'
    );
  return new Error(`cannot list TrainingRuns or pods: ${error instanceof Error ? error.message : String(error)}`);
}

async function serve(
  port: number,
  host: string,
  metrics: OperatorMetrics,
  state: () => { synced: boolean; stopping: boolean; leader: boolean },
  beforeScrape: () => void
): Promise<http.Server> {
  const server = http.createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      // A standby is ready (it is campaigning); a leader once its caches have synced.
      const { synced, stopping, leader } = state();
      const ready = !stopping && (!leader || synced);
      response.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ok\n' : 'not ready\n');
    } else if (path === '/metrics') {
      beforeScrape();
      metrics.registry
        .metrics()
        .then((text) => response.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text))
        .catch((error: unknown) => response.writeHead(500).end(String(error)));
    } else {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /healthz, /readyz or /metrics\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) =>
      reject(new Error(`the operator cannot serve /healthz and /metrics on ${host}:${port}: ${error.message}`))
    );
    server.listen(port, host, () => resolve());
  });
  return server;
}
