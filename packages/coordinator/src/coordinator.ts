import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type * as grpc from '@grpc/grpc-js';
import { openStore, type ObjectStore } from '@ringtrain/dataset';
import { DEFAULT_HEARTBEAT_TIMEOUT_SECONDS, type RunIdentityPems } from '@ringtrain/proto';
import type { RunStateKey } from '@ringtrain/proto';
import type { HeartbeatAnswer, Logger, RunConfig } from '@ringtrain/protocol';
import { generationBooks, membersByRank, reportingMember, type Generation, type Member } from './generation.js';
import { startGrpcServer, stopGrpcServer, type CoordinatorService, type Respond } from './grpc-service.js';
import { answerHeartbeat, findHungWorkers, watchdogPeriodMs } from './heartbeat-watchdog.js';
import { LOCAL_HTTP_PORT, startHttpServer, stopHttpServer, type HttpServer } from './http-routes.js';
import { ingestIfNeeded } from './ingest-before-training.js';
import { CoordinatorMetrics } from './metrics.js';
import { assembleMetricsFile, writeMetricsFile, type RunMetricsFile, type RunResult } from './metrics-file.js';
import type {
  CheckpointRecord,
  EpochRecord,
  HungWorker,
  RestartRecord,
  RunState,
  RunStatus,
  StepRecord
} from './records.js';
import {
  initialRendezvous,
  isEnding,
  rendezvous,
  runningGeneration,
  type Registration,
  type RendezvousAction,
  type RendezvousEvent,
  type RendezvousState
} from './rendezvous.js';
import { resolveRunConfigFromManifest } from './resolve-config.js';
import { loadRunPlan, renderRunPlan, type RunPlan } from './run-plan.js';
import { readRunRecord, resumeBooks, RunRecordWriter, type RunRecord } from './run-record.js';
import { RunTimeline } from './run-timeline.js';

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
  /**
   * The run's TLS identity (a cluster run's, from the operator). With it, gRPC is mutual TLS (a worker must hold a
   * certificate of the run's CA), the HTTP port is HTTPS and asks for the token on every path but /healthz, and the
   * same routes are also served in plain HTTP on the loopback's LOCAL_HTTP_PORT for a `kubectl port-forward`.
   */
  tls?: RunIdentityPems;
  /** With `tls`: the loopback port of the token-free plain HTTP routes (default LOCAL_HTTP_PORT; 0 picks a free one). */
  localHttpPort?: number;
  /** A worker silent for this long ends its generation (it is hung or unreachable); default DEFAULT_HEARTBEAT_TIMEOUT_SECONDS. */
  heartbeatDeadlineMs?: number;
  /** Generations that may end in failure before the run is Failed (torchrun's max_restarts). */
  maxRestarts?: number;
  /** The metrics.json of the run being resumed: its epoch history carries on (restarts count afresh). */
  previous?: Pick<RunMetricsFile, 'epochs' | 'restarts'>;
  /** The run plan, when the caller has described it already; else the coordinator reads the dataset's manifest. */
  plan?: RunPlan;
  /**
   * The run's state key (from a token that stays the same across restarts, RINGTRAIN_HMAC_FROM_TOKEN): its
   * run-record.json is signed with it, and one without a valid signature is refused. Unset: unsigned (a local run).
   */
  stateKey?: RunStateKey;
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

/**
 * One run's control plane: rendezvous into generations (gang semantics), heartbeats with a deadline, the end
 * of a generation on any failure with a restart budget, progress history, and metrics.json at the end.
 * Workers do the training and the checkpoints; the coordinator only keeps the books.
 *
 * This class composes the parts and keeps the books they share: the gRPC server and its auth
 * (grpc-service.ts) hand it the workers' calls; the rendezvous state machine (rendezvous.ts) decides who is in
 * which generation and when the run ends, and the generation's books (generation.ts) are kept here as it
 * decides; the heartbeat watchdog (heartbeat-watchdog.ts) says who hangs; the run record (run-record.ts)
 * persists the books; metrics-file.ts assembles metrics.json; metrics.ts counts for Prometheus; http-routes.ts
 * serves the dashboard, /status and /metrics.
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
  private httpServer: HttpServer | undefined;
  private localHttpServer: HttpServer | undefined;
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
  /** With a TLS identity: the loopback-only plain HTTP address a `kubectl port-forward` reaches. */
  localHttpAddress: string | undefined;

  /** Generation numbers continue those of a predecessor, so nothing of its last generation passes for ours. */
  private readonly firstGeneration: number;
  /** The run's output, where the run record and metrics.json go. */
  private readonly output: ObjectStore;
  private readonly record: RunRecordWriter;

  private constructor(
    private readonly options: CoordinatorOptions,
    output: ObjectStore,
    recovered: RunRecord | undefined
  ) {
    super();
    this.config = options.config;
    this.log = options.logger;
    this.output = output;
    this.record = new RunRecordWriter(output, this.log, options.stateKey);
    this.deadlineMs = options.heartbeatDeadlineMs ?? DEFAULT_HEARTBEAT_TIMEOUT_SECONDS * 1000;
    this.maxRestarts = options.maxRestarts ?? 3;
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    const resumed = resumeBooks(recovered, options.previous);
    this.firstGeneration = resumed.firstGeneration;
    this.earlierRestarts = resumed.earlierRestarts;
    for (const epoch of resumed.epochs) this.epochs.set(epoch.epoch, epoch);
    this.checkpoints.push(...resumed.checkpoints);
    this.rendezvous = initialRendezvous(
      { worldSize: this.config.workers, maxRestarts: this.maxRestarts, firstGeneration: this.firstGeneration },
      resumed.finished
    );
    if (recovered !== undefined) {
      this.log.info(
        { generation: recovered.generation, state: recovered.state, epochs: recovered.epochs.length },
        'recovered the run from its record'
      );
    }
    this.timeline = new RunTimeline(options.logger);
    this.on('step', (step) => this.timeline.recordStep(step));
    if (resumed.finished !== undefined) {
      // A finished run stays finished: its workers are answered "ended", and metrics.json is left as written.
      const { state, reason } = resumed.finished;
      this.result = { state, reason, metrics: this.metricsFile(state, reason) };
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
      options.httpPort === null
        ? {}
        : {
            serve: {
              host: options.host ?? '127.0.0.1',
              port: options.httpPort ?? 0,
              ...(options.tls ? { tls: options.tls, token: options.token } : {})
            }
          }
    );
    // Before the plan and before any worker sees it: workers must all train the same, concrete configuration.
    const config = await resolveRunConfigFromManifest(options.config);
    const output = openStore(config.out);
    const coordinator = new Coordinator(
      { ...options, config },
      output,
      await readRunRecord(output, config.runId, options.stateKey)
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
      ranksPerPod: this.config.ranksPerPod ?? 1,
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
      respond({ refused: 'unavailable', message: 'the coordinator is shutting down' });
    this.waiting.clear();
    if (this.grpcServer !== undefined) await stopGrpcServer(this.grpcServer);
    if (this.httpServer !== undefined) await stopHttpServer(this.httpServer);
    if (this.localHttpServer !== undefined) await stopHttpServer(this.localHttpServer);
  }

  /** The workers' calls, as grpc-service.ts hands them over once their token is checked. */
  private service(): CoordinatorService {
    return {
      register: (workerId, address, respond) => this.dispatch({ kind: 'register', workerId, address }, respond),
      heartbeat: (workerId, generation) => this.heartbeat(workerId, generation),
      reportStep: (report) => this.reportStep(report),
      reportEpoch: (report) => this.reportEpoch(report),
      reportCheckpoint: (report) => this.reportCheckpoint(report),
      reportFailure: (report) => this.reportFailure(report),
      reportFinished: (report) => this.reportFinished(report)
    };
  }

  private heartbeat(workerId: string, generation: number): HeartbeatAnswer {
    return answerHeartbeat(
      { current: this.current, rendezvous: this.rendezvous, result: this.result },
      workerId,
      generation,
      Date.now()
    );
  }

  private reportStep(report: Parameters<CoordinatorService['reportStep']>[0]): void {
    this.member(report.workerId, report.generation);
    const { workerId: _, ...step } = report;
    const record: StepRecord = { ...step, globalStep: Number(report.globalStep) };
    this.lastStep = record;
    this.metrics.recordStep(record);
    this.emit('step', record);
  }

  private reportEpoch(report: Parameters<CoordinatorService['reportEpoch']>[0]): void {
    this.member(report.workerId, report.generation);
    const { workerId: _, confusion, ...epoch } = report;
    // Keyed by epoch: an epoch redone after a restart replaces its first report.
    const record: EpochRecord = { ...epoch, samplesTrained: Number(report.samplesTrained) };
    this.epochs.set(record.epoch, record);
    this.timeline.recordValidation(record.epoch, confusion);
    this.metrics.recordEpoch(record);
    this.log.info({ epoch: record.epoch, valAccuracy: record.valAccuracy, trainLoss: record.trainLoss }, 'epoch done');
    this.emit('epoch', record);
    this.saveRecord();
  }

  private reportCheckpoint(report: Parameters<CoordinatorService['reportCheckpoint']>[0]): void {
    this.member(report.workerId, report.generation);
    const record: CheckpointRecord = {
      key: report.key,
      epoch: report.epoch,
      globalStep: Number(report.globalStep),
      samplesConsumed: Number(report.samplesConsumed),
      bytes: Number(report.bytes),
      at: new Date().toISOString()
    };
    this.checkpoints.push(record);
    if (this.checkpoints.length > this.config.keepCheckpoints) this.checkpoints.shift();
    this.metrics.recordCheckpoint(record);
    this.saveRecord();
    this.emit('checkpoint', record);
  }

  private reportFailure(report: Parameters<CoordinatorService['reportFailure']>[0]): void {
    this.dispatch({
      kind: 'generation-failed',
      generation: report.generation,
      workerId: report.workerId,
      reason: report.reason,
      retryable: report.retryable
    });
  }

  private reportFinished(report: Parameters<CoordinatorService['reportFinished']>[0]): void {
    const member = this.member(report.workerId, report.generation);
    member.finished = {
      stopped: report.stopped,
      weightsSha256: report.weightsSha256,
      summary: report.summaryJson === '' ? {} : (JSON.parse(report.summaryJson) as Record<string, unknown>)
    };
    this.dispatch({
      kind: 'member-finished',
      generation: report.generation,
      workerId: report.workerId,
      stopped: report.stopped
    });
  }

  private async listen(): Promise<void> {
    const host = this.options.host ?? '127.0.0.1';
    const grpcServer = await startGrpcServer({
      host,
      port: this.options.port ?? 0,
      token: this.options.token,
      service: this.service(),
      ...(this.options.tls ? { tls: this.options.tls } : {})
    });
    this.grpcServer = grpcServer.server;
    this.address = grpcServer.address;
    if (this.options.httpPort !== null) {
      const tls = this.options.tls;
      const httpServer = await startHttpServer({
        host,
        port: this.options.httpPort ?? 0,
        sources: this,
        ...(tls ? { tls, token: this.options.token } : {})
      });
      this.httpServer = httpServer.server;
      this.httpAddress = httpServer.address;
      if (tls) {
        // A convenience for people, not part of the run: a port already taken costs the port-forward view only.
        const local = await startHttpServer({
          host: '127.0.0.1',
          port: this.options.localHttpPort ?? LOCAL_HTTP_PORT,
          sources: this
        }).catch((error: unknown) => {
          this.log.warn(
            { error: error instanceof Error ? error.message : String(error) },
            'no token-free dashboard on the loopback for kubectl port-forward; /status still answers with the token'
          );
          return undefined;
        });
        this.localHttpServer = local?.server;
        this.localHttpAddress = local?.address;
      }
    }
    this.watchdog = setInterval(() => this.checkHeartbeats(), watchdogPeriodMs(this.deadlineMs));
    this.watchdog.unref();
    this.log.info(
      { address: this.address, http: this.httpAddress, local: this.localHttpAddress, workers: this.config.workers },
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

  /** The member a report comes from; a report from an ended generation is refused, so the worker re-registers. */
  private member(workerId: string, generation: number): Member {
    return reportingMember(this.current, workerId, generation, Date.now());
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
        if (action.code === 'invalid-argument') respond?.({ refused: 'invalid-argument', message: action.message });
        else respond?.({ refused: 'resource-exhausted', message: `run ${this.config.runId} ${action.message}` });
        return;
      case 'answer-ended':
        respond?.({
          runEnded: true,
          runEndedReason: action.reason,
          runOutcome: RUN_OUTCOME_ON_THE_WIRE[action.outcome ?? 'unspecified'],
          runId: this.config.runId
        });
        return;
      case 'supersede':
        this.waiting.get(action.workerId)?.({ refused: 'aborted', message: action.message });
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
          waiting({
            runEnded: true,
            runEndedReason: action.reason,
            runOutcome: RUN_OUTCOME_ON_THE_WIRE[action.outcome ?? 'unspecified'],
            runId: this.config.runId
          });
        this.waiting.clear();
        return;
    }
  }

  private formGeneration(number: number, registrations: readonly Registration[]): void {
    const ids = registrations.map((each) => each.workerId);
    const peers = registrations.map((each) => each.address);
    const collectiveToken = randomBytes(16).toString('hex');
    this.current = generationBooks(number, registrations, Date.now());
    this.metrics.generations.inc();
    this.metrics.workers.set(this.current.members.size);
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

  /** The watchdog's turn: who hangs is heartbeat-watchdog.ts's to say; what follows is decided here. */
  private checkHeartbeats(): void {
    const verdicts = findHungWorkers({
      current: this.current,
      rendezvous: this.rendezvous,
      exited: this.exited,
      hung: this.hung,
      deadlineMs: this.deadlineMs,
      now: Date.now()
    });
    for (const { hung, endsGeneration } of verdicts) {
      this.hung.set(hung.workerId, hung);
      if (!endsGeneration) this.log.warn({ workerId: hung.workerId, generation: this.current?.number }, hung.reason);
      this.emit('workerLost', { workerId: hung.workerId, reason: hung.reason });
      if (endsGeneration) this.dispatch({ kind: 'heartbeat-missed', workerId: hung.workerId, reason: hung.reason });
    }
  }

  /** Snapshots the books into the run record (see run-record.ts); a failed write is logged, not fatal. */
  private saveRecord(): void {
    this.record.save({
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
    });
  }

  private history(): EpochRecord[] {
    return [...this.epochs.values()].sort((a, b) => a.epoch - b.epoch);
  }

  private metricsFile(state: RunResult['state'], reason: string): RunMetricsFile {
    return assembleMetricsFile(
      {
        config: this.config,
        current: this.current,
        restarts: [...this.earlierRestarts, ...this.restarts],
        history: this.history(),
        checkpoints: [...this.checkpoints],
        lastStep: this.lastStep,
        timeline: this.timeline,
        startedAt: this.startedAt
      },
      state,
      reason
    );
  }

  /** Writes the final books; only the rendezvous's `finish` action calls it, once. */
  private async finish(state: RunResult['state'], finishedReason: string): Promise<void> {
    // Rank 0 says why training ended before its last epoch (early stopping): the reason /status and metrics.json give.
    const endReason = membersByRank(this.current)[0]?.finished?.summary.endReason;
    const reason = state === 'succeeded' && typeof endReason === 'string' ? endReason : finishedReason;
    const metrics = this.metricsFile(state, reason);
    try {
      await writeMetricsFile(this.output, metrics);
    } catch (error) {
      this.log.error({ error: String(error) }, 'could not write metrics.json');
    }
    this.result = { state, reason, metrics };
    this.saveRecord();
    await this.record.settled();
    this.dispatch({ kind: 'finished' });
    this.log.info({ state, reason }, 'run ended');
    this.emit('finished', this.result);
    this.resolveDone(this.result);
  }
}

/** RegisterResponse.run_outcome: a worker exits with the failed run's code on FAILED alone. */
const RUN_OUTCOME_ON_THE_WIRE = {
  succeeded: 'RUN_OUTCOME_SUCCEEDED',
  failed: 'RUN_OUTCOME_FAILED',
  stopped: 'RUN_OUTCOME_STOPPED',
  unspecified: 'RUN_OUTCOME_UNSPECIFIED'
} as const;
