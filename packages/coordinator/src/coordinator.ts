import { randomBytes, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { openStore } from '@ringtrain/dataset';
import {
  DEFAULT_HEARTBEAT_TIMEOUT_SECONDS,
  loadProto,
  type CoordinatorHandlers,
  type CoordinatorProto,
  type EpochReport__Output,
  type RegisterResponse,
  type StepReport__Output
} from '@ringtrain/proto';
import type { Logger, RunConfig, ValidationByClass } from '@ringtrain/protocol';
import { isDashboardPath, serveDashboard } from './dashboard/dashboard.js';
import { CoordinatorMetrics } from './metrics.js';
import { ingestIfNeeded } from './ingest-before-training.js';
import { resolveRunConfigFromManifest } from './resolve-config.js';
import { readRunRecord, writeRunRecord, type RunRecord } from './run-record.js';
import { loadRunPlan, renderRunPlan, type RunPlan } from './run-plan.js';
import {
  initialRendezvous,
  isEnding,
  rendezvous,
  runningGeneration,
  type RendezvousAction,
  type RendezvousEvent,
  type RendezvousState
} from './rendezvous.js';
import { RunTimeline, type RankStepTimes, type StepPoint } from './run-timeline.js';

export interface CoordinatorOptions {
  config: RunConfig;
  /** Shared secret every worker presents; also what the collective tokens are derived from. */
  token: string;
  logger: Logger;
  host?: string;
  /** gRPC port; 0 picks a free one (read `address`). */
  port?: number;
  /** HTTP port for /status, /healthz and /metrics; 0 picks a free one, null serves none. */
  httpPort?: number | null;
  /** A worker silent for this long ends its generation (it is hung or unreachable); default DEFAULT_HEARTBEAT_TIMEOUT_SECONDS. */
  heartbeatDeadlineMs?: number;
  /** Generations that may end in failure before the run is Failed (torchrun's max_restarts). */
  maxRestarts?: number;
  /** The metrics.json of the run being resumed: its epoch history carries on (restarts count afresh). */
  previous?: Pick<RunMetricsFile, 'epochs' | 'restarts'>;
  /** The run plan, when the caller has described it already; else the coordinator reads the dataset's manifest. */
  plan?: RunPlan;
}

export type RunState = 'rendezvous' | 'running' | 'succeeded' | 'failed' | 'stopped';
/** The confusion matrix is kept apart (RunTimeline): per epoch it would make the history grow with classes². */
export type EpochRecord = Omit<EpochReport__Output, 'workerId' | 'samplesTrained' | 'confusion'> & {
  samplesTrained: number;
};
export type StepRecord = Omit<StepReport__Output, 'workerId' | 'globalStep'> & { globalStep: number };

export interface RestartRecord {
  /** The generation that ended. */
  generation: number;
  reason: string;
  at: string;
}

/**
 * A worker the heartbeat watchdog declared hung: silent past the deadline while its generation ran. It stays
 * listed until the same worker registers again (alive after all, or its replacement), so whoever runs the
 * processes (the operator, from /status) can replace the one that hangs: nothing else ever would.
 */
export interface HungWorker {
  workerId: string;
  /** Its rank in the generation it hung in. */
  rank: number;
  /** Its last sign of life (ISO time). */
  since: string;
  reason: string;
}

export interface CheckpointRecord {
  key: string;
  epoch: number;
  globalStep: number;
  samplesConsumed: number;
  bytes: number;
  at: string;
}

/** What `/status` serves and `metrics.json` is built from. */
export interface RunStatus {
  runId: string;
  state: RunState;
  reason: string;
  generation: number;
  worldSize: number;
  registered: number;
  restarts: RestartRecord[];
  maxRestarts: number;
  epochs: number;
  lastStep: StepRecord | undefined;
  history: EpochRecord[];
  checkpoints: CheckpointRecord[];
  /** Workers declared hung and not heard from since; empty when there are none. */
  hungWorkers: HungWorker[];
  startedAt: string;
  elapsedSeconds: number;
  /** Null when the dataset's manifest could not be read to describe the run. */
  plan: RunPlan | null;
}

export interface RunResult {
  state: 'succeeded' | 'failed' | 'stopped';
  reason: string;
  /** The content of metrics.json. */
  metrics: RunMetricsFile;
}

export interface RunMetricsFile {
  runId: string;
  state: RunResult['state'];
  reason: string;
  config: RunConfig;
  generations: number;
  restarts: RestartRecord[];
  epochs: EpochRecord[];
  checkpoints: CheckpointRecord[];
  final: {
    valAccuracy: number | null;
    valLoss: number | null;
    trainLoss: number | null;
    imagesPerSecond: number | null;
    globalStep: number;
  };
  /** Per rank, sha256 of its final weights; equal on every rank when averaging is right. */
  weightsSha256: string[];
  weightsIdentical: boolean;
  /** What rank 0 reported at the end (model locations). */
  summary: Record<string, unknown>;
  /** The run plan as the run started (backends per rank filled in once known); null if it could not be made. */
  plan: RunPlan | null;
  /** Training loss, accuracy, images/s and learning rate per step (evenly thinned to at most ~2,000 points). */
  steps: StepPoint[];
  /** Per rank, the mean seconds of a step's phases over the run. */
  rankStepSeconds: RankStepTimes[];
  /** The last epoch's validation by class: confusion matrix (rows = true class) and per-class accuracy. */
  validation: ValidationByClass | null;
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
}

export interface CoordinatorEvents {
  generation: [{ generation: number; ranks: string[] }];
  step: [StepRecord];
  epoch: [EpochRecord];
  checkpoint: [CheckpointRecord];
  restart: [RestartRecord];
  /** A worker missed its heartbeat deadline: the local supervisor kills it (it may be hung, not dead). */
  workerLost: [{ workerId: string; reason: string }];
  finished: [RunResult];
}

interface Member {
  workerId: string;
  rank: number;
  address: string;
  lastSeen: number;
  finished?: { stopped: boolean; weightsSha256: string; summary: Record<string, unknown> };
}

/** The books of the latest generation (who is in it is the rendezvous's to say: rendezvous.ts). */
interface Generation {
  number: number;
  members: Map<string, Member>;
}

type Respond = (response: RegisterResponse | grpc.ServiceError) => void;

function coordinatorProto(): CoordinatorProto {
  return grpc.loadPackageDefinition(loadProto('coordinator.proto')) as unknown as CoordinatorProto;
}

function statusError(code: grpc.status, message: string): grpc.ServiceError {
  return Object.assign(new Error(message), { code, details: message, metadata: new grpc.Metadata() });
}

function sameSecret(presented: string, expected: string): boolean {
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * One run's control plane: rendezvous into generations (gang semantics), heartbeats with a deadline, the end
 * of a generation on any failure with a restart budget, progress history, and metrics.json at the end.
 * Workers do the training and the checkpoints; the coordinator only keeps the books.
 */
export class Coordinator extends EventEmitter<CoordinatorEvents> {
  readonly metrics = new CoordinatorMetrics();
  /** Per-step curves, each rank's time split, backends, validation by class: for the dashboard and metrics.json. */
  readonly timeline: RunTimeline;
  readonly done: Promise<RunResult>;
  private resolveDone: (result: RunResult) => void = () => {};
  private readonly config: RunConfig;
  private readonly log: Logger;
  private readonly deadlineMs: number;
  private readonly maxRestarts: number;
  private readonly startedAt = new Date();
  private grpcServer: grpc.Server | undefined;
  private httpServer: http.Server | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private current: Generation | undefined;
  /** Who waits, who is in which generation, when the run ends: a pure state machine (rendezvous.ts). */
  private rendezvous: RendezvousState;
  /** The registration calls waiting for their gang, by worker. */
  private readonly waiting = new Map<string, Respond>();
  private readonly restarts: RestartRecord[] = [];
  /** Restarts of the run before it was resumed: reported, but not held against this session's budget. */
  private readonly earlierRestarts: RestartRecord[];
  private readonly epochs = new Map<number, EpochRecord>();
  private readonly checkpoints: CheckpointRecord[] = [];
  private readonly hung = new Map<string, HungWorker>();
  /** Workers whose process exited (the local supervisor said so) and that have not registered since. */
  private readonly exited = new Set<string>();
  private lastStep: StepRecord | undefined;
  private result: RunResult | undefined;
  address = '';
  httpAddress: string | undefined;

  /** Generation numbers continue those of a predecessor, so nothing of its last generation passes for ours. */
  private readonly firstGeneration: number;
  /** Record writes, one after another: each is a whole snapshot and the last one written must be the newest. */
  private recordWrites: Promise<void> = Promise.resolve();

  private constructor(
    private readonly options: CoordinatorOptions,
    recovered: RunRecord | undefined
  ) {
    super();
    this.config = options.config;
    this.log = options.logger;
    this.deadlineMs = options.heartbeatDeadlineMs ?? DEFAULT_HEARTBEAT_TIMEOUT_SECONDS * 1000;
    this.maxRestarts = options.maxRestarts ?? 3;
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.firstGeneration = recovered === undefined ? 0 : recovered.generation + 1;
    const finished =
      recovered?.state === 'succeeded' || recovered?.state === 'failed'
        ? { state: recovered.state, reason: recovered.reason }
        : undefined;
    this.rendezvous = initialRendezvous(
      { worldSize: this.config.workers, maxRestarts: this.maxRestarts, firstGeneration: this.firstGeneration },
      finished
    );
    if (recovered === undefined) {
      for (const epoch of options.previous?.epochs ?? []) this.epochs.set(epoch.epoch, epoch);
      this.earlierRestarts = options.previous?.restarts ?? [];
    } else {
      for (const epoch of recovered.epochs) this.epochs.set(epoch.epoch, epoch);
      this.checkpoints.push(...recovered.checkpoints);
      const interrupted = recovered.state === 'running' && recovered.generation >= 0;
      this.earlierRestarts = [
        ...recovered.restarts,
        ...(interrupted
          ? [
              {
                generation: recovered.generation,
                reason: `the coordinator restarted: generation ${recovered.generation} was interrupted`,
                at: new Date().toISOString()
              }
            ]
          : [])
      ];
      this.log.info(
        { generation: recovered.generation, state: recovered.state, epochs: recovered.epochs.length },
        'recovered the run from its record'
      );
    }
    this.timeline = new RunTimeline(options.logger);
    this.on('step', (step) => this.timeline.recordStep(step));
    if (recovered?.state === 'succeeded' || recovered?.state === 'failed') {
      // A finished run stays finished: its workers are answered "ended", and metrics.json is left as written.
      this.result = {
        state: recovered.state,
        reason: recovered.reason,
        metrics: this.metricsFile(recovered.state, recovered.reason)
      };
      this.resolveDone(this.result);
    }
  }

  static async start(options: CoordinatorOptions): Promise<Coordinator> {
    if (options.token.length < 16)
      throw new Error('the coordinator token must be at least 16 characters (a random secret)');
    // First of all: everything below reads the dataset's manifest, which a run given a raw source has yet to make.
    await ingestIfNeeded(
      options.config,
      options.logger,
      options.httpPort === null ? {} : { serve: { host: options.host ?? '127.0.0.1', port: options.httpPort ?? 0 } }
    );
    // Before the plan and before any worker sees it: workers must all train the same, concrete configuration.
    const config = await resolveRunConfigFromManifest(options.config);
    const coordinator = new Coordinator(
      { ...options, config },
      await readRunRecord(openStore(config.out), config.runId)
    );
    await coordinator.describePlan(options.plan);
    await coordinator.listen();
    return coordinator;
  }

  get state(): RunState {
    if (this.result !== undefined) return this.result.state;
    return this.generationRuns() ? 'running' : 'rendezvous';
  }

  status(): RunStatus {
    const generation = this.current;
    return {
      runId: this.config.runId,
      state: this.state,
      reason: this.result?.reason ?? this.rendezvous.generation?.ended ?? '',
      generation: generation?.number ?? -1,
      worldSize: this.config.workers,
      registered:
        this.generationRuns() && generation !== undefined ? generation.members.size : this.rendezvous.pending.length,
      restarts: [...this.restarts],
      maxRestarts: this.maxRestarts,
      epochs: this.config.epochs,
      lastStep: this.lastStep,
      history: this.history(),
      checkpoints: [...this.checkpoints],
      hungWorkers: [...this.hung.values()],
      startedAt: this.startedAt.toISOString(),
      elapsedSeconds: (Date.now() - this.startedAt.getTime()) / 1000,
      plan: this.timeline.plan()
    };
  }

  /**
   * The local supervisor (or the operator, from a pod's status) tells the coordinator that a worker process
   * exited; a member of the running generation ends it at once rather than after the heartbeat deadline.
   */
  workerExited(workerId: string, description: string): void {
    this.exited.add(workerId);
    this.dispatch({ kind: 'leave', workerId, description });
  }

  /** Stops the run cleanly: the workers finish their step, rank 0 writes a checkpoint, all exit. */
  requestStop(reason: string): void {
    if (isEnding(this.rendezvous) || this.rendezvous.stopRequested) return;
    this.log.info({ reason }, 'stop requested');
    this.dispatch({ kind: 'stop', reason });
  }

  /** Fails the run from outside (e.g. the supervisor cannot keep a worker alive long enough to register). */
  abortRun(reason: string): void {
    this.dispatch({ kind: 'abort', reason });
  }

  async close(): Promise<void> {
    clearInterval(this.watchdog);
    this.dispatch({ kind: 'close' });
    await this.done;
    for (const respond of this.waiting.values())
      respond(statusError(grpc.status.UNAVAILABLE, 'the coordinator is shutting down'));
    this.waiting.clear();
    await new Promise<void>((resolve) => {
      const server = this.grpcServer;
      if (server === undefined) return resolve();
      const timer = setTimeout(() => server.forceShutdown(), 2_000);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    await new Promise<void>((resolve) => {
      if (this.httpServer === undefined) return resolve();
      this.httpServer.closeAllConnections();
      this.httpServer.close(() => resolve());
    });
  }

  private async listen(): Promise<void> {
    const host = this.options.host ?? '127.0.0.1';
    const bindHost = host.includes(':') ? `[${host}]` : host;
    const server = new grpc.Server({
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.http2.min_ping_interval_without_data_ms': 5_000
    });
    server.addService(coordinatorProto().ringtrain.coordinator.v1.Coordinator.service, this.handlers());
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(
        `${bindHost}:${this.options.port ?? 0}`,
        grpc.ServerCredentials.createInsecure(),
        (error, bound) =>
          error
            ? reject(
                new Error(`the coordinator cannot listen on ${bindHost}:${this.options.port ?? 0}: ${error.message}`)
              )
            : resolve(bound)
      )
    );
    this.grpcServer = server;
    this.address = `${bindHost}:${port}`;
    if (this.options.httpPort !== null) {
      const httpServer = http.createServer((request, response) => void this.serveHttp(request, response));
      await new Promise<void>((resolve, reject) => {
        httpServer.once('error', (error) =>
          reject(new Error(`the coordinator's HTTP server cannot listen: ${error.message}`))
        );
        httpServer.listen(this.options.httpPort ?? 0, host, () => resolve());
      });
      const bound = httpServer.address();
      this.httpServer = httpServer;
      this.httpAddress = `http://${bindHost}:${typeof bound === 'object' && bound !== null ? bound.port : 0}`;
    }
    this.watchdog = setInterval(() => this.checkHeartbeats(), Math.max(100, Math.min(1_000, this.deadlineMs / 4)));
    this.watchdog.unref();
    this.log.info(
      { address: this.address, http: this.httpAddress, workers: this.config.workers },
      'coordinator listening'
    );
  }

  /** Logs the plan (in a cluster, how it reaches the TrainingRun's events); a run without one still runs. */
  private async describePlan(given: RunPlan | undefined): Promise<void> {
    try {
      const plan = given ?? (await loadRunPlan(this.config));
      this.timeline.setPlan(plan);
      this.log.info({ plan }, renderRunPlan(plan));
    } catch (error) {
      this.log.warn(
        { error: error instanceof Error ? error.message : String(error) },
        'no run plan: the dataset manifest could not be read'
      );
    }
  }

  private async serveHttp(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    if (isDashboardPath(path)) {
      await serveDashboard(new URL(request.url ?? '/', 'http://coordinator'), response, this).catch(
        (error: unknown) => {
          if (!response.headersSent)
            response.writeHead(500, { 'content-type': 'text/plain' }).end(`dashboard error: ${String(error)}\n`);
        }
      );
    } else if (path === '/healthz') {
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/status') {
      response.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify(this.status())}\n`);
    } else if (path === '/metrics') {
      const body = await this.metrics.registry.metrics();
      response.writeHead(200, { 'content-type': this.metrics.registry.contentType }).end(body);
    } else {
      response
        .writeHead(404, { 'content-type': 'text/plain' })
        .end('not found: try / (the dashboard), /status, /healthz or /metrics\n');
    }
  }

  private authorized(call: grpc.ServerUnaryCall<unknown, unknown>): boolean {
    const presented = call.metadata.get('authorization')[0];
    return typeof presented === 'string' && sameSecret(presented, `Bearer ${this.options.token}`);
  }

  private handlers(): CoordinatorHandlers {
    const guard =
      <Request, Response>(handle: (request: Request) => Response): grpc.handleUnaryCall<Request, Response> =>
      (call, callback) => {
        if (!this.authorized(call)) {
          callback(statusError(grpc.status.UNAUTHENTICATED, 'wrong or missing coordinator token (RINGTRAIN_TOKEN)'));
          return;
        }
        try {
          callback(null, handle(call.request));
        } catch (error) {
          callback(
            error instanceof Error && 'code' in error
              ? (error as grpc.ServiceError)
              : statusError(grpc.status.INTERNAL, String(error))
          );
        }
      };
    return {
      Register: (call, callback) => {
        if (!this.authorized(call)) {
          callback(statusError(grpc.status.UNAUTHENTICATED, 'wrong or missing coordinator token (RINGTRAIN_TOKEN)'));
          return;
        }
        this.register(call.request.workerId, call.request.collectiveAddress, (response) =>
          response instanceof Error ? callback(response) : callback(null, response)
        );
      },
      Heartbeat: guard((request) => this.heartbeat(request.workerId, request.generation)),
      ReportStep: guard((request) => {
        this.member(request.workerId, request.generation);
        const { workerId: _, ...step } = request;
        const record: StepRecord = { ...step, globalStep: Number(request.globalStep) };
        this.lastStep = record;
        this.metrics.steps.inc();
        this.metrics.images.inc(record.images);
        this.metrics.loss.set(record.loss);
        this.metrics.accuracy.set(record.accuracy);
        this.metrics.throughput.set(record.imagesPerSecond);
        this.metrics.epoch.set(record.epoch);
        this.metrics.phaseSeconds.inc({ phase: 'data_wait' }, record.dataWaitSeconds);
        this.metrics.phaseSeconds.inc({ phase: 'compute' }, record.computeSeconds);
        this.metrics.phaseSeconds.inc({ phase: 'allreduce' }, record.allreduceSeconds);
        this.metrics.phaseSeconds.inc({ phase: 'optimizer' }, record.optimizerSeconds);
        this.emit('step', record);
        return {};
      }),
      ReportEpoch: guard((request) => {
        this.member(request.workerId, request.generation);
        const { workerId: _, confusion, ...epoch } = request;
        // Keyed by epoch: an epoch redone after a restart replaces its first report.
        const record: EpochRecord = { ...epoch, samplesTrained: Number(request.samplesTrained) };
        this.epochs.set(record.epoch, record);
        this.timeline.recordValidation(record.epoch, confusion);
        this.metrics.valAccuracy.set(record.valAccuracy);
        this.log.info(
          { epoch: record.epoch, valAccuracy: record.valAccuracy, trainLoss: record.trainLoss },
          'epoch done'
        );
        this.emit('epoch', record);
        this.saveRecord();
        return {};
      }),
      ReportCheckpoint: guard((request) => {
        this.member(request.workerId, request.generation);
        const record: CheckpointRecord = {
          key: request.key,
          epoch: request.epoch,
          globalStep: Number(request.globalStep),
          samplesConsumed: Number(request.samplesConsumed),
          bytes: Number(request.bytes),
          at: new Date().toISOString()
        };
        this.checkpoints.push(record);
        if (this.checkpoints.length > this.config.keepCheckpoints) this.checkpoints.shift();
        this.metrics.checkpoints.inc();
        this.saveRecord();
        this.metrics.checkpointBytes.set(record.bytes);
        this.emit('checkpoint', record);
        return {};
      }),
      ReportFailure: guard((request) => {
        this.dispatch({
          kind: 'generation-failed',
          generation: request.generation,
          workerId: request.workerId,
          reason: request.reason,
          retryable: request.retryable
        });
        return {};
      }),
      ReportFinished: guard((request) => {
        const member = this.member(request.workerId, request.generation);
        member.finished = {
          stopped: request.stopped,
          weightsSha256: request.weightsSha256,
          summary: request.summaryJson === '' ? {} : (JSON.parse(request.summaryJson) as Record<string, unknown>)
        };
        this.dispatch({
          kind: 'member-finished',
          generation: request.generation,
          workerId: request.workerId,
          stopped: request.stopped
        });
        return {};
      })
    };
  }

  /** The member a report comes from; a report from an ended generation is refused, so the worker re-registers. */
  private member(workerId: string, generation: number): Member {
    const current = this.current;
    const member = current?.members.get(workerId);
    if (current === undefined || current.number !== generation || member === undefined) {
      throw statusError(
        grpc.status.FAILED_PRECONDITION,
        `generation ${generation} is not the current one (${current?.number ?? 'none'}): register again`
      );
    }
    member.lastSeen = Date.now();
    return member;
  }

  private register(workerId: string, address: string, respond: Respond): void {
    this.dispatch({ kind: 'register', workerId, address }, respond);
  }

  /** Whether a generation runs now (formed, not ended, the run not ending). */
  private generationRuns(): boolean {
    return runningGeneration(this.rendezvous) !== undefined;
  }

  /**
   * Hands an event to the rendezvous and carries out what it decides, in order. `respond` answers the
   * registration the event is, if it is one.
   */
  private dispatch(event: RendezvousEvent, respond?: Respond): void {
    const { state, actions } = rendezvous(this.rendezvous, event);
    this.rendezvous = state;
    for (const action of actions) this.carryOut(action, respond);
  }

  private carryOut(action: RendezvousAction, respond: Respond | undefined): void {
    switch (action.kind) {
      case 'refuse':
        if (action.code === 'invalid-argument') respond?.(statusError(grpc.status.INVALID_ARGUMENT, action.message));
        else respond?.(statusError(grpc.status.RESOURCE_EXHAUSTED, `run ${this.config.runId} ${action.message}`));
        return;
      case 'answer-ended':
        respond?.({ runEnded: true, runEndedReason: action.reason, runId: this.config.runId });
        return;
      case 'supersede':
        this.waiting.get(action.workerId)?.(statusError(grpc.status.ABORTED, action.message));
        this.waiting.delete(action.workerId);
        return;
      case 'wait':
        // Alive after all, or its replacement: no longer hung.
        this.hung.delete(action.workerId);
        this.exited.delete(action.workerId);
        if (respond) this.waiting.set(action.workerId, respond);
        this.metrics.workers.set(action.waiting);
        // The address peers will dial: what an operator checks first when a ring does not form.
        this.log.info(
          { workerId: action.workerId, address: action.address, waiting: action.waiting, of: this.config.workers },
          'worker registered'
        );
        return;
      case 'form':
        this.formGeneration(action.generation, action.members);
        return;
      case 'generation-ended':
        this.generationEnded(action.generation, action.reason, action.counted, action.restart);
        return;
      case 'finish':
        void this.finish(action.state, action.reason);
        return;
      case 'release':
        for (const waiting of this.waiting.values())
          waiting({ runEnded: true, runEndedReason: action.reason, runId: this.config.runId });
        this.waiting.clear();
        return;
    }
  }

  private formGeneration(number: number, registrations: readonly { workerId: string; address: string }[]): void {
    const ids = registrations.map((each) => each.workerId);
    const peers = registrations.map((each) => each.address);
    const collectiveToken = randomBytes(16).toString('hex');
    const members = new Map<string, Member>();
    const now = Date.now();
    ids.forEach((workerId, rank) => members.set(workerId, { workerId, rank, address: peers[rank]!, lastSeen: now }));
    this.current = { number, members };
    this.metrics.generations.inc();
    this.metrics.workers.set(members.size);
    this.log.info({ generation: number, ranks: ids }, 'generation formed');
    const configJson = JSON.stringify(this.config);
    for (const [rank, workerId] of ids.entries()) {
      const respond = this.waiting.get(workerId);
      this.waiting.delete(workerId);
      respond?.({
        runEnded: false,
        runId: this.config.runId,
        generation: number,
        rank,
        worldSize: ids.length,
        peers,
        collectiveToken,
        configJson
      });
    }
    this.emit('generation', { generation: number, ranks: ids });
    this.saveRecord();
  }

  /** A generation ended: `counted` ones are a restart of the budget, `restart` ones go on to the next generation. */
  private generationEnded(generation: number, reason: string, counted: boolean, restart: boolean): void {
    if (!counted) return;
    const record: RestartRecord = { generation, reason, at: new Date().toISOString() };
    this.restarts.push(record);
    this.metrics.restarts.inc();
    this.log.warn({ generation, reason, restarts: this.restarts.length }, 'generation ended');
    this.saveRecord();
    if (restart) this.emit('restart', record);
  }

  private heartbeat(workerId: string, generation: number): { abort: boolean; reason: string; stop: boolean } {
    const current = this.current;
    if (this.result !== undefined && this.result.state !== 'succeeded')
      return { abort: true, reason: this.result.reason, stop: false };
    if (current === undefined || current.number !== generation) {
      return { abort: true, reason: `generation ${generation} has ended`, stop: false };
    }
    const member = current.members.get(workerId);
    // A member of a generation that ended still counts as alive while it beats (its step has yet to notice).
    if (member !== undefined) member.lastSeen = Date.now();
    const ended = this.rendezvous.generation?.ended;
    if (ended !== undefined) return { abort: true, reason: ended, stop: false };
    if (member === undefined)
      return { abort: true, reason: `${workerId} is not a member of generation ${generation}`, stop: false };
    return { abort: false, reason: '', stop: this.rendezvous.stopRequested };
  }

  private checkHeartbeats(): void {
    const current = this.current;
    if (current === undefined) return;
    if (!this.generationRuns()) {
      if (this.rendezvous.phase === 'gathering') this.checkStragglers(current);
      return;
    }
    const now = Date.now();
    for (const member of current.members.values()) {
      if (member.finished !== undefined || now - member.lastSeen <= this.deadlineMs) continue;
      const reason = `worker ${member.workerId} (rank ${member.rank}) sent no heartbeat for ${((now - member.lastSeen) / 1000).toFixed(1)} s: hung or unreachable`;
      this.hung.set(member.workerId, {
        workerId: member.workerId,
        rank: member.rank,
        since: new Date(member.lastSeen).toISOString(),
        reason
      });
      this.emit('workerLost', { workerId: member.workerId, reason });
      this.dispatch({ kind: 'heartbeat-missed', workerId: member.workerId, reason });
      return;
    }
  }

  /**
   * While the gang gathers again: a member of the generation that ended, silent past the deadline, that has
   * not registered again and whose process did not exit, hangs (its step hangs while its heartbeat thread gave
   * up, after its peers' collective timed out). Nothing else would notice, and the gang would wait for it.
   */
  private checkStragglers(ended: Generation): void {
    const now = Date.now();
    const back = new Set(this.rendezvous.pending.map((each) => each.workerId));
    for (const member of ended.members.values()) {
      const { workerId } = member;
      if (
        member.finished !== undefined ||
        back.has(workerId) ||
        this.exited.has(workerId) ||
        this.hung.has(workerId) ||
        now - member.lastSeen <= this.deadlineMs
      )
        continue;
      const reason = `worker ${workerId} (rank ${member.rank} of generation ${ended.number}, which ended) sent no heartbeat for ${((now - member.lastSeen) / 1000).toFixed(1)} s and did not register again: hung`;
      this.hung.set(workerId, { workerId, rank: member.rank, since: new Date(member.lastSeen).toISOString(), reason });
      this.log.warn({ workerId, generation: ended.number }, reason);
      this.emit('workerLost', { workerId, reason });
    }
  }

  /** Snapshots the books into the run record (see run-record.ts); a failed write is logged, not fatal. */
  private saveRecord(): void {
    const record: RunRecord = {
      version: 1,
      runId: this.config.runId,
      state: this.result?.state ?? 'running',
      reason: this.result?.reason ?? '',
      generation: this.current?.number ?? this.firstGeneration - 1,
      restarts: [...this.earlierRestarts, ...this.restarts],
      epochs: this.history(),
      checkpoints: [...this.checkpoints],
      startedAt: this.startedAt.toISOString(),
      updatedAt: new Date().toISOString()
    };
    const store = openStore(this.config.out);
    this.recordWrites = this.recordWrites
      .then(() => writeRunRecord(store, record))
      .catch((error: unknown) => this.log.warn({ error: String(error) }, 'could not write the run record'));
  }

  private history(): EpochRecord[] {
    return [...this.epochs.values()].sort((a, b) => a.epoch - b.epoch);
  }

  private metricsFile(state: RunResult['state'], reason: string): RunMetricsFile {
    const members = [...(this.current?.members.values() ?? [])].sort((a, b) => a.rank - b.rank);
    const hashes = members.map((member) => member.finished?.weightsSha256 ?? '');
    const history = this.history();
    const last = history.at(-1);
    const finishedAt = new Date();
    return {
      runId: this.config.runId,
      state,
      reason,
      config: this.config,
      generations: this.current === undefined ? 0 : this.current.number + 1,
      restarts: [...this.earlierRestarts, ...this.restarts],
      epochs: history,
      checkpoints: [...this.checkpoints],
      final: {
        // A dataset ingested with --val-fraction 0 has no validation split: no accuracy, rather than 0%.
        valAccuracy: last && last.valImages > 0 ? last.valAccuracy : null,
        valLoss: last && last.valImages > 0 ? last.valLoss : null,
        trainLoss: last?.trainLoss ?? null,
        imagesPerSecond: last?.imagesPerSecond ?? null,
        globalStep: this.lastStep?.globalStep ?? 0
      },
      weightsSha256: hashes,
      weightsIdentical: hashes.length > 0 && hashes.every((hash) => hash !== '' && hash === hashes[0]),
      summary: members[0]?.finished?.summary ?? {},
      plan: this.timeline.plan(),
      steps: this.timeline.steps(),
      rankStepSeconds: this.timeline.rankTimes().mean,
      validation: this.timeline.validation(),
      startedAt: this.startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationSeconds: (finishedAt.getTime() - this.startedAt.getTime()) / 1000
    };
  }

  /** Writes the final books; only the rendezvous's `finish` action calls it, once. */
  private async finish(state: RunResult['state'], finishedReason: string): Promise<void> {
    // Rank 0 says why training ended before its last epoch (early stopping): the reason /status and metrics.json give.
    const endReason = [...(this.current?.members.values() ?? [])].find((member) => member.rank === 0)?.finished?.summary
      .endReason;
    const reason = state === 'succeeded' && typeof endReason === 'string' ? endReason : finishedReason;
    const metrics = this.metricsFile(state, reason);
    try {
      await openStore(this.config.out).put('metrics.json', Buffer.from(`${JSON.stringify(metrics, null, 1)}\n`));
    } catch (error) {
      this.log.error({ error: String(error) }, 'could not write metrics.json');
    }
    this.result = { state, reason, metrics };
    this.saveRecord();
    await this.recordWrites;
    this.dispatch({ kind: 'finished' });
    this.log.info({ state, reason }, 'run ended');
    this.emit('finished', this.result);
    this.resolveDone(this.result);
  }
}
