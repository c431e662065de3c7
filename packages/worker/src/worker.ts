import path from 'node:path';
import {
  CollectiveEndpoint,
  CollectiveError,
  connectGroup,
  ThreadedEndpoint,
  type ProcessGroupConfig,
  type TlsFiles
} from '@ringtrain/collective';
import { initBackend, type ComputeThreads } from '@ringtrain/model';
import {
  describeRetry,
  formatHostPort,
  readRunIdentity,
  RUN_IDENTITY_FILES,
  RUN_IDENTITY_SERVER_NAME,
  type RunIdentityPems
} from '@ringtrain/proto';
import type { RunStateKey } from '@ringtrain/proto';
import {
  CoordinatorConnection,
  CoordinatorUnavailableError,
  createLogger,
  RegistrationAbortedError,
  type Assignment,
  type Logger
} from '@ringtrain/protocol';
import {
  checkGpuBackend,
  GpuUnavailableError,
  observeGpuHost,
  type BackendOutcome,
  type GpuExpectation
} from './gpu-check.js';
import { HeartbeatSender } from './heartbeat.js';
import { openRunResources, type RunResources } from './resources.js';
import { trainGeneration, WorkerConfigError } from './train-generation.js';

const KEEPALIVE_TIMEOUT_MS = 10 * 60_000;
/** How long a rank that finished its part waits for an unreachable coordinator to say how the run ended. */
const OUTCOME_WAIT_MS = 30_000;

export interface WorkerOptions {
  /** host:port of the coordinator's gRPC server. */
  coordinator: string;
  /** The run's shared secret (RINGTRAIN_TOKEN). */
  token: string;
  /** Stable name of this worker slot across restarts (pod name, or worker-<i> locally). */
  workerId: string;
  /** Interface the collective endpoint listens on (0.0.0.0 in a pod). */
  host?: string;
  /** Port of the collective endpoint; 0 (default) picks a free one. */
  port?: number;
  /** Host name peers use to reach this rank (a pod's stable DNS name); default: the listening host. */
  advertiseHost?: string;
  /**
   * How long registering keeps retrying while nothing answers at the coordinator's address (default
   * DEFAULT_RECONNECT_DEADLINE_SECONDS, 300 s; Infinity: until it answers), with backoff and a warning per retry.
   * Infinity in a cluster where the coordinator ingests the dataset before it listens.
   */
  coordinatorWaitMs?: number;
  /** TensorFlow's threads for this rank (`chooseComputeThreads`: the cgroup quota or the cores it shares). */
  computeThreads?: ComputeThreads;
  /**
   * The GPUs this worker's pod was given (RINGTRAIN_EXPECTED_GPUS, set by the operator): with a count above 0
   * the worker starts TensorFlow before it registers and throws GpuUnavailableError unless it computes on a GPU.
   */
  expectedGpus?: GpuExpectation;
  /**
   * Run the collective (endpoint, links, reduction) on a worker thread of its own, so that its bytes move
   * while a synchronous training step blocks this thread (default true; RINGTRAIN_COLLECTIVE_THREAD=0 in the CLI).
   */
  collectiveThread?: boolean;
  /**
   * The run's state key (RunStateKey, from a token that stays the same across restarts): checkpoint pointers are
   * signed with it and refused without a valid signature. Unset: the SHA-256 check alone (a local run).
   */
  stateKey?: RunStateKey;
  /**
   * The run's TLS identity directory (RINGTRAIN_TLS_DIR, the Secret the operator mounts): with it, the coordinator
   * calls and every ring link are mutual TLS against the run's own CA, so only pods of this run take part.
   */
  tlsDir?: string;
  /** Aborting it stops the run cleanly after the current step (the CLI wires SIGINT/SIGTERM to it). */
  stop?: AbortSignal;
  logger?: Logger;
}

export interface WorkerResult {
  /** How the run ended, as the coordinator or this worker saw it. */
  outcome: 'finished' | 'stopped' | 'run-ended';
  reason: string;
  generations: number;
}

/**
 * The coordinator answered this worker's registration with the run's end, and the run failed (its restart
 * budget is used up, or a rank reported an error no restart fixes): the CLI exits with EXIT_CODES.runFailed.
 */
export class RunFailedError extends Error {
  constructor(readonly reason: string) {
    super(`the run failed: ${reason}`);
    this.name = 'RunFailedError';
  }
}

/** The ring's links use the run's identity as files: the collective's thread reads them itself. */
function collectiveTls(identity: RunIdentityPems): TlsFiles {
  return {
    caFile: path.join(identity.dir, RUN_IDENTITY_FILES.ca),
    certFile: path.join(identity.dir, RUN_IDENTITY_FILES.certificate),
    keyFile: path.join(identity.dir, RUN_IDENTITY_FILES.privateKey),
    serverName: RUN_IDENTITY_SERVER_NAME
  };
}

/**
 * One rank's whole life in a run: listen for ring links, register, train each generation it is given, and
 * when a generation fails (a peer died, the coordinator ended it) report it and register for the next one.
 * Throws when the coordinator cannot be reached or this worker's setup fails, RunFailedError when the
 * coordinator says the run failed, and GpuUnavailableError before anything else when its pod was given GPUs
 * that TensorFlow does not compute on.
 */
export async function runWorker(options: WorkerOptions): Promise<WorkerResult> {
  const log = options.logger ?? createLogger({ service: 'worker', workerId: options.workerId });
  if (options.expectedGpus !== undefined && options.expectedGpus.count > 0)
    await requireGpu(options.expectedGpus, options.computeThreads, log);
  // A rank blocks its event loop for each synchronous training step and cannot answer pings meanwhile: a
  // dead peer shows as a reset link at once, a hung one through the collective's timeout and the heartbeats.
  const keepalive = { keepaliveTimeoutMs: KEEPALIVE_TIMEOUT_MS };
  // Read once here: a missing file fails the rank before it listens, with what provides it.
  const identity = options.tlsDir === undefined ? undefined : readRunIdentity(options.tlsDir);
  const endpointOptions = {
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 0,
    ...keepalive,
    ...(identity === undefined ? {} : { tls: collectiveTls(identity) })
  };
  const endpoint =
    (options.collectiveThread ?? true)
      ? await ThreadedEndpoint.listen(endpointOptions)
      : await CollectiveEndpoint.listen(endpointOptions);
  const port = endpoint.address.slice(endpoint.address.lastIndexOf(':') + 1);
  const advertised =
    options.advertiseHost === undefined ? endpoint.address : formatHostPort(options.advertiseHost, port);
  const connection = new CoordinatorConnection(
    options.coordinator,
    options.token,
    {
      ...(options.coordinatorWaitMs !== undefined ? { deadlineMs: options.coordinatorWaitMs } : {}),
      onRetry: (event) =>
        log.warn({ downForSeconds: Math.round(event.downForMs / 1000), attempt: event.attempt }, describeRetry(event))
    },
    identity
  );
  // Heartbeats go from their own thread, up before the gang forms: a step blocks this thread's event loop.
  const heartbeats = new HeartbeatSender({
    coordinator: options.coordinator,
    token: options.token,
    workerId: options.workerId,
    ...(options.tlsDir !== undefined ? { tlsDir: options.tlsDir } : {}),
    onFailure: (generation, error) => log.warn({ generation, error }, 'heartbeat failed')
  });
  await heartbeats.ready.catch(async (error: unknown) => {
    await heartbeats.close();
    connection.close();
    await endpoint.close();
    throw error;
  });
  let resources: RunResources | undefined;
  let stopRequested = options.stop?.aborted ?? false;
  options.stop?.addEventListener('abort', () => (stopRequested = true), { once: true });
  let generations = 0;
  /**
   * This rank's part is done, but the run's outcome is not known yet: another rank may still fail (rank 0 writing
   * the last checkpoint, say), and then the gang needs this rank again for the next generation.
   */
  let finished: WorkerResult | undefined;
  // After its part, a rank asks how the run ends; a coordinator that is gone by then has ended it (it exits once
  // every rank has reported), so that question waits a short while, not the reconnect deadline.
  const outcomeConnection = new CoordinatorConnection(
    options.coordinator,
    options.token,
    { deadlineMs: OUTCOME_WAIT_MS, onRetry: () => {} },
    identity
  );
  try {
    for (;;) {
      let registered;
      heartbeats.idle();
      try {
        registered = await (finished ? outcomeConnection : connection).register(
          options.workerId,
          advertised,
          options.stop
        );
      } catch (error) {
        // Told to stop while waiting for the gang (a pod deleted during a gang restart): not a failure.
        if (error instanceof RegistrationAbortedError)
          return finished ?? { outcome: 'stopped', reason: error.message, generations };
        if (finished && error instanceof CoordinatorUnavailableError) return finished;
        throw error;
      }
      if (registered.ended) {
        log.info({ reason: registered.reason, outcome: registered.outcome }, 'the run has ended');
        if (registered.outcome === 'failed') throw new RunFailedError(registered.reason);
        return finished ?? { outcome: 'run-ended', reason: registered.reason, generations };
      }
      if (finished) log.info('another rank failed after this one had finished: joining the next generation');
      finished = undefined;
      const assignment = registered.assignment;
      generations += 1;
      const rankLog = log.child({ runId: assignment.runId, rank: assignment.rank, generation: assignment.generation });
      try {
        resources ??= await openRunResources(
          assignment.config,
          options.workerId,
          (line) => rankLog.info(line),
          options.computeThreads,
          options.stateKey
        );
        const outcome = await runGeneration(
          assignment,
          resources,
          rankLog,
          () => stopRequested,
          (stop) => (stopRequested ||= stop)
        );
        if (outcome.outcome !== 'finished') return outcome;
        finished = outcome;
      } catch (error) {
        const configProblem = error instanceof WorkerConfigError;
        const reason = error instanceof Error ? error.message : String(error);
        const code = error instanceof CollectiveError ? error.code : configProblem ? 'CONFIG' : 'WORKER';
        rankLog.warn({ code, reason }, 'generation failed');
        await connection
          .reportFailure({
            workerId: options.workerId,
            generation: assignment.generation,
            reason,
            code,
            retryable: !configProblem
          })
          .catch((reportError: unknown) => rankLog.warn({ error: String(reportError) }, 'failure report failed'));
        if (stopRequested)
          return {
            outcome: 'stopped',
            reason: `told to stop; generation ${assignment.generation} had failed: ${reason}`,
            generations
          };
      }
    }
  } finally {
    await heartbeats.close();
    connection.close();
    outcomeConnection.close();
    await resources?.close();
    await endpoint.close();
  }

  async function runGeneration(
    assignment: Assignment,
    resources: RunResources,
    rankLog: Logger,
    stopped: () => boolean,
    requestStop: (stop: boolean) => void
  ): Promise<WorkerResult> {
    const stripes = assignment.config.collectiveStripes;
    const config: ProcessGroupConfig = {
      groupId: assignment.runId,
      generation: assignment.generation,
      rank: assignment.rank,
      worldSize: assignment.worldSize,
      peers: assignment.peers,
      token: assignment.collectiveToken,
      timeoutMs: assignment.config.collectiveTimeoutMs,
      stripes,
      ...keepalive
    };
    if (stripes > 1 && !(endpoint instanceof ThreadedEndpoint))
      throw new WorkerConfigError(
        `collectiveStripes ${stripes} needs the collective thread (one per stripe): unset RINGTRAIN_COLLECTIVE_THREAD=0 or set collectiveStripes to 1`
      );
    const group = await connectGroup(endpoint, config);
    rankLog.info(
      { generation: config.generation, worldSize: config.worldSize, linksPerEdge: stripes },
      'joined the ring'
    );
    // The coordinator's answer is how a rank learns that a peer far around the ring died, or that it should
    // stop; read when this thread's loop turns (between steps, or while the collective waits on the network).
    const timing = {
      intervalMs: assignment.config.heartbeatIntervalMs,
      coordinatorLostMs: assignment.config.coordinatorLostMs,
      mainThreadStallMs: assignment.config.collectiveTimeoutMs
    };
    heartbeats.beat(assignment.generation, timing, (verdict) => {
      if (verdict.kind === 'coordinator-lost') {
        // Training on would only lose the steps: the generation's books died with the coordinator.
        group.abort(verdict.reason);
        return;
      }
      if (verdict.abort) group.abort(verdict.reason);
      if (verdict.stop) requestStop(true);
    });
    try {
      const outcome = await trainGeneration({
        assignment,
        group,
        connection,
        workerId: options.workerId,
        resources,
        stopRequested: stopped,
        log: rankLog
      });
      heartbeats.idle();
      await connection.reportFinished({
        workerId: options.workerId,
        generation: assignment.generation,
        stopped: outcome.stopped,
        weightsSha256: outcome.weightsSha256,
        summaryJson: JSON.stringify(outcome.summary)
      });
      await group.close();
      rankLog.info({ stopped: outcome.stopped }, 'finished');
      return {
        outcome: outcome.stopped ? 'stopped' : 'finished',
        reason: outcome.stopped ? 'stopped on request' : 'training finished',
        generations
      };
    } catch (error) {
      // Beating on until it registers again: to the coordinator, a member that falls silent and stays away hangs.
      heartbeats.detach();
      group.abort(error instanceof Error ? error.message : String(error));
      await group.close().catch(() => {});
      throw error;
    }
  }
}

/**
 * Starts the tensorflow backend (the run's config asks for it too when the run has GPUs) and refuses to go on
 * unless it computes on a GPU: before registering, so the gang never waits for a rank that would train on the
 * CPU, and the pod fails at once with the reason.
 */
async function requireGpu(expected: GpuExpectation, threads: ComputeThreads | undefined, log: Logger): Promise<void> {
  const outcome: BackendOutcome = await initBackend({
    requested: 'tensorflow',
    log: (line) => log.info(line),
    ...(threads !== undefined ? { threads } : {})
  }).then(
    (backend) => ({ backend }),
    (error: unknown) => ({ error: error instanceof Error ? error.message : String(error) })
  );
  const host = observeGpuHost();
  const verdict = checkGpuBackend(expected, outcome, host);
  if (!verdict.ok) {
    log.error({ expected, host, ...('error' in outcome ? { backendError: outcome.error } : {}) }, 'GPU check failed');
    throw new GpuUnavailableError(verdict.message);
  }
  log.info({ expected, host }, `GPU check: ${verdict.summary}`);
}
