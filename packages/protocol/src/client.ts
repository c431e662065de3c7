import * as grpc from '@grpc/grpc-js';
import {
  DEFAULT_RECONNECT_DEADLINE_SECONDS,
  loadProto,
  logRetryToStderr,
  retryUntilDeadline,
  type Patience,
  type CoordinatorClient,
  type CoordinatorProto,
  type EpochReport,
  type RegisterResponse__Output,
  type StepReport,
  type RunIdentityPems,
  RUN_IDENTITY_SERVER_NAME
} from '@ringtrain/proto';
import { parseRunConfig, type RunConfig } from './run-config.js';

/** The worker's place in one generation, as the coordinator assigned it. */
export interface Assignment {
  runId: string;
  generation: number;
  rank: number;
  worldSize: number;
  peers: string[];
  collectiveToken: string;
  config: RunConfig;
}

/** How a run ended, as the coordinator answers a worker that registers after (or while) it ends. */
export type RunOutcome = 'succeeded' | 'failed' | 'stopped' | 'unknown';

export type RegisterOutcome =
  { ended: false; assignment: Assignment } | { ended: true; reason: string; outcome: RunOutcome };

export interface HeartbeatAnswer {
  abort: boolean;
  reason: string;
  stop: boolean;
}

export type CheckpointReportInput = Parameters<CoordinatorClient['ReportCheckpoint']>[0];
export type FailureReportInput = Parameters<CoordinatorClient['ReportFailure']>[0];
export type FinishedReportInput = Parameters<CoordinatorClient['ReportFinished']>[0];
export type { StepReport, EpochReport };

/** The coordinator could not be reached for longer than the worker is willing to wait (the CLI exits 80, retryable). */
export class CoordinatorUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CoordinatorUnavailableError';
  }
}

/** The worker was told to stop while it waited for its gang: not a failure of the run. */
export class RegistrationAbortedError extends Error {
  constructor(workerId: string) {
    super(`${workerId} stopped waiting for its gang: it was told to stop`);
    this.name = 'RegistrationAbortedError';
  }
}

const RETRYABLE = new Set([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED, grpc.status.ABORTED]);

/**
 * How patiently register waits for an unreachable coordinator (one that restarts, or has not started yet):
 * backoff from 250 ms doubling to 15 s, with jitter, for spec.runPolicy.reconnectDeadlineSeconds (default
 * DEFAULT_RECONNECT_DEADLINE_SECONDS; Infinity: until it answers), a line on stderr per retry unless
 * `onRetry` says otherwise.
 */
export type CoordinatorWait = Partial<Patience>;

/** The worker's side of the coordinator contract (packages/proto/proto/coordinator.proto). */
export class CoordinatorConnection {
  private readonly client: CoordinatorClient;
  private readonly metadata = new grpc.Metadata();
  private readonly wait: Patience;

  constructor(
    readonly address: string,
    token: string,
    /** How long and how register keeps retrying while the coordinator is unreachable (e.g. while it restarts). */
    wait: CoordinatorWait = {},
    /** The run's identity: mutual TLS, the coordinator checked against the run's own CA. */
    tls?: RunIdentityPems
  ) {
    this.wait = {
      deadlineMs: DEFAULT_RECONNECT_DEADLINE_SECONDS * 1000,
      baseDelayMs: 250,
      maxDelayMs: 15_000,
      onRetry: logRetryToStderr,
      ...wait
    };
    const proto = grpc.loadPackageDefinition(loadProto('coordinator.proto')) as unknown as CoordinatorProto;
    this.client = new proto.ringtrain.coordinator.v1.Coordinator(
      address,
      tls === undefined
        ? grpc.credentials.createInsecure()
        : grpc.credentials.createSsl(tls.ca, tls.privateKey, tls.certificate),
      {
        'grpc.keepalive_time_ms': 10_000,
        'grpc.keepalive_permit_without_calls': 1,
        // Every pod of the run carries this name, whatever address reached it (see RUN_IDENTITY_SERVER_NAME).
        ...(tls === undefined ? {} : { 'grpc.ssl_target_name_override': RUN_IDENTITY_SERVER_NAME })
      }
    );
    this.metadata.set('authorization', `Bearer ${token}`);
  }

  /**
   * Joins the next generation and waits for the gang to be complete. Retries while the coordinator is
   * unreachable, with backoff and a log line per retry, up to the wait's deadline; then throws
   * CoordinatorUnavailableError. Aborting `signal` (the worker was told to stop) ends the wait at once with
   * RegistrationAbortedError.
   */
  async register(workerId: string, collectiveAddress: string, signal?: AbortSignal): Promise<RegisterOutcome> {
    const isRetryable = (error: unknown): boolean => {
      const code = (error as Partial<grpc.ServiceError>).code;
      return code !== undefined && RETRYABLE.has(code);
    };
    try {
      const response = await retryUntilDeadline(
        () => {
          if (signal?.aborted) throw new RegistrationAbortedError(workerId);
          return this.unary<RegisterResponse__Output>((callback) => {
            const call = this.client.Register({ workerId, collectiveAddress }, this.metadata, callback);
            signal?.addEventListener('abort', () => call.cancel(), { once: true });
            return call;
          });
        },
        {
          ...this.wait,
          what: `the coordinator at ${this.address}`,
          retryable: isRetryable,
          ...(signal ? { signal } : {}),
          giveUp: (error, downForMs) =>
            new CoordinatorUnavailableError(
              `the coordinator at ${this.address} was unreachable for ${Math.round(downForMs / 1000)} s, past the reconnect deadline of ${Math.round(this.wait.deadlineMs / 1000)} s: ${(error as Error).message}`
            )
        }
      );
      if (response.runEnded) return { ended: true, reason: response.runEndedReason, outcome: runOutcome(response) };
      return {
        ended: false,
        assignment: {
          runId: response.runId,
          generation: response.generation,
          rank: response.rank,
          worldSize: response.worldSize,
          peers: response.peers,
          collectiveToken: response.collectiveToken,
          config: parseRunConfig(JSON.parse(response.configJson) as unknown, `coordinator ${this.address}`)
        }
      };
    } catch (error) {
      if (signal?.aborted) throw new RegistrationAbortedError(workerId);
      throw error;
    }
  }

  /**
   * Tells the coordinator this rank is alive. Rejects with CoordinatorUnavailableError when nothing listens at
   * the coordinator's address (it died or restarts), which a late answer from a busy one never is.
   */
  async heartbeat(workerId: string, generation: number): Promise<HeartbeatAnswer> {
    try {
      return await this.unary((callback) =>
        this.client.Heartbeat({ workerId, generation }, this.metadata, { deadline: Date.now() + 5_000 }, callback)
      );
    } catch (error) {
      if ((error as Partial<grpc.ServiceError>).code === grpc.status.UNAVAILABLE) {
        throw new CoordinatorUnavailableError(
          `the coordinator at ${this.address} is unreachable: ${(error as Error).message}`
        );
      }
      throw error;
    }
  }

  reportStep(report: StepReport): Promise<void> {
    return this.ack((callback) =>
      this.client.ReportStep(report, this.metadata, { deadline: Date.now() + 10_000 }, callback)
    );
  }

  reportEpoch(report: EpochReport): Promise<void> {
    return this.ack((callback) =>
      this.client.ReportEpoch(report, this.metadata, { deadline: Date.now() + 10_000 }, callback)
    );
  }

  reportCheckpoint(report: CheckpointReportInput): Promise<void> {
    return this.ack((callback) =>
      this.client.ReportCheckpoint(report, this.metadata, { deadline: Date.now() + 10_000 }, callback)
    );
  }

  reportFailure(report: FailureReportInput): Promise<void> {
    return this.ack((callback) =>
      this.client.ReportFailure(report, this.metadata, { deadline: Date.now() + 10_000 }, callback)
    );
  }

  reportFinished(report: FinishedReportInput): Promise<void> {
    return this.ack((callback) =>
      this.client.ReportFinished(report, this.metadata, { deadline: Date.now() + 10_000 }, callback)
    );
  }

  close(): void {
    this.client.close();
  }

  private unary<T>(start: (callback: grpc.requestCallback<T>) => unknown): Promise<T> {
    return new Promise((resolve, reject) => {
      start((error, value) => (error ? reject(error) : resolve(value as T)));
    });
  }

  private async ack(start: (callback: grpc.requestCallback<object>) => unknown): Promise<void> {
    await this.unary(start);
  }
}

function runOutcome(response: RegisterResponse__Output): RunOutcome {
  switch (response.runOutcome) {
    case 'RUN_OUTCOME_SUCCEEDED':
      return 'succeeded';
    case 'RUN_OUTCOME_FAILED':
      return 'failed';
    case 'RUN_OUTCOME_STOPPED':
      return 'stopped';
    case 'RUN_OUTCOME_UNSPECIFIED':
      // The coordinator always says how a run ended; unspecified is a run still deciding (never a failure).
      return 'unknown';
  }
}
