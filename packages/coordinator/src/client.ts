import * as grpc from '@grpc/grpc-js';
import { loadProto, type CoordinatorClient, type CoordinatorProto, type EpochReport, type RegisterResponse__Output, type StepReport } from '@ringtrain/proto';
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

export type RegisterOutcome = { ended: false; assignment: Assignment } | { ended: true; reason: string };

export interface HeartbeatAnswer {
  abort: boolean;
  reason: string;
  stop: boolean;
}

export type CheckpointReportInput = Parameters<CoordinatorClient['ReportCheckpoint']>[0];
export type FailureReportInput = Parameters<CoordinatorClient['ReportFailure']>[0];
export type FinishedReportInput = Parameters<CoordinatorClient['ReportFinished']>[0];
export type { StepReport, EpochReport };

/** The coordinator could not be reached for longer than the worker is willing to wait. */
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

/** The worker's side of the coordinator contract (packages/proto/proto/coordinator.proto). */
export class CoordinatorConnection {
  private readonly client: CoordinatorClient;
  private readonly metadata = new grpc.Metadata();

  constructor(
    readonly address: string,
    token: string,
    /** How long register keeps retrying while the coordinator is unreachable (e.g. while it restarts). */
    private readonly unavailableTimeoutMs = 120_000,
  ) {
    const proto = grpc.loadPackageDefinition(loadProto('coordinator.proto')) as unknown as CoordinatorProto;
    this.client = new proto.ringtrain.coordinator.v1.Coordinator(address, grpc.credentials.createInsecure(), {
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_permit_without_calls': 1,
    });
    this.metadata.set('authorization', `Bearer ${token}`);
  }

  /**
   * Joins the next generation and waits for the gang to be complete. Retries while the coordinator is
   * unreachable, up to the unavailable timeout. Aborting `signal` (the worker was told to stop) ends the wait
   * at once with RegistrationAbortedError.
   */
  async register(workerId: string, collectiveAddress: string, signal?: AbortSignal): Promise<RegisterOutcome> {
    const giveUpAt = Date.now() + this.unavailableTimeoutMs;
    let delay = 200;
    for (;;) {
      if (signal?.aborted) throw new RegistrationAbortedError(workerId);
      try {
        const response = await this.unary<RegisterResponse__Output>((callback) => {
          const call = this.client.Register({ workerId, collectiveAddress }, this.metadata, callback);
          signal?.addEventListener('abort', () => call.cancel(), { once: true });
          return call;
        });
        if (response.runEnded) return { ended: true, reason: response.runEndedReason };
        return {
          ended: false,
          assignment: {
            runId: response.runId, generation: response.generation, rank: response.rank, worldSize: response.worldSize,
            peers: response.peers, collectiveToken: response.collectiveToken,
            config: parseRunConfig(JSON.parse(response.configJson) as unknown, `coordinator ${this.address}`),
          },
        };
      } catch (error) {
        if (signal?.aborted) throw new RegistrationAbortedError(workerId);
        const code = (error as Partial<grpc.ServiceError>).code;
        if (code === undefined || !RETRYABLE.has(code) || Date.now() > giveUpAt) {
          if (code !== undefined && RETRYABLE.has(code)) {
            throw new CoordinatorUnavailableError(`the coordinator at ${this.address} was unreachable for ${this.unavailableTimeoutMs / 1000} s: ${(error as Error).message}`);
          }
          throw error;
        }
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, delay);
          signal?.addEventListener('abort', () => (clearTimeout(timer), resolve(undefined)), { once: true });
        });
        delay = Math.min(delay * 2, 5_000);
      }
    }
  }

  /**
   * Tells the coordinator this rank is alive. Rejects with CoordinatorUnavailableError when nothing listens at
   * the coordinator's address (it died or restarts), which a late answer from a busy one never is.
   */
  async heartbeat(workerId: string, generation: number): Promise<HeartbeatAnswer> {
    try {
      return await this.unary((callback) => this.client.Heartbeat({ workerId, generation }, this.metadata, { deadline: Date.now() + 5_000 }, callback));
    } catch (error) {
      if ((error as Partial<grpc.ServiceError>).code === grpc.status.UNAVAILABLE) {
        throw new CoordinatorUnavailableError(`the coordinator at ${this.address} is unreachable: ${(error as Error).message}`);
      }
      throw error;
    }
  }

  reportStep(report: StepReport): Promise<void> {
    return this.ack((callback) => this.client.ReportStep(report, this.metadata, { deadline: Date.now() + 10_000 }, callback));
  }

  reportEpoch(report: EpochReport): Promise<void> {
    return this.ack((callback) => this.client.ReportEpoch(report, this.metadata, { deadline: Date.now() + 10_000 }, callback));
  }

  reportCheckpoint(report: CheckpointReportInput): Promise<void> {
    return this.ack((callback) => this.client.ReportCheckpoint(report, this.metadata, { deadline: Date.now() + 10_000 }, callback));
  }

  reportFailure(report: FailureReportInput): Promise<void> {
    return this.ack((callback) => this.client.ReportFailure(report, this.metadata, { deadline: Date.now() + 10_000 }, callback));
  }

  reportFinished(report: FinishedReportInput): Promise<void> {
    return this.ack((callback) => this.client.ReportFinished(report, this.metadata, { deadline: Date.now() + 10_000 }, callback));
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
