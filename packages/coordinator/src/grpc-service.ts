import * as grpc from '@grpc/grpc-js';
import {
  formatHostPort,
  loadProto,
  sameSecret,
  type CoordinatorHandlers,
  type CoordinatorProto,
  type RegisterResponse,
  type RunIdentityPems
} from '@ringtrain/proto';
import type { HeartbeatAnswer } from '@ringtrain/protocol';
import { StaleGenerationError } from './generation.js';

/**
 * The coordinator's gRPC server (packages/proto/proto/coordinator.proto): it checks every call's bearer token,
 * hands the request to the books (CoordinatorService) and turns their answers and typed errors into gRPC
 * statuses. Nothing here knows what the books do with a report.
 */

type RequestOf<Method extends keyof CoordinatorHandlers> =
  CoordinatorHandlers[Method] extends grpc.handleUnaryCall<infer Request, infer _> ? Request : never;

/** A registration refused, or answered with an error: each kind is one gRPC status. */
export interface RegisterRefusal {
  refused: 'invalid-argument' | 'resource-exhausted' | 'aborted' | 'unavailable';
  message: string;
}

/** Answers a waiting registration: with its assignment (or the run's end), or a refusal. */
export type Respond = (answer: RegisterResponse | RegisterRefusal) => void;

/** What the server hands calls to; a handler may throw StaleGenerationError. */
export interface CoordinatorService {
  /** A long poll: `respond` is called once, when the gang is complete or the registration refused. */
  register(workerId: string, collectiveAddress: string, respond: Respond): void;
  heartbeat(workerId: string, generation: number): HeartbeatAnswer;
  reportStep(report: RequestOf<'ReportStep'>): void;
  reportEpoch(report: RequestOf<'ReportEpoch'>): void;
  reportCheckpoint(report: RequestOf<'ReportCheckpoint'>): void;
  reportFailure(report: RequestOf<'ReportFailure'>): void;
  reportFinished(report: RequestOf<'ReportFinished'>): void;
}

const REFUSAL_STATUS: Record<RegisterRefusal['refused'], grpc.status> = {
  'invalid-argument': grpc.status.INVALID_ARGUMENT,
  'resource-exhausted': grpc.status.RESOURCE_EXHAUSTED,
  aborted: grpc.status.ABORTED,
  unavailable: grpc.status.UNAVAILABLE
};

function statusError(code: grpc.status, message: string): grpc.ServiceError {
  return Object.assign(new Error(message), { code, details: message, metadata: new grpc.Metadata() });
}

function coordinatorProto(): CoordinatorProto {
  return grpc.loadPackageDefinition(loadProto('coordinator.proto')) as unknown as CoordinatorProto;
}

function handlers(service: CoordinatorService, token: string): CoordinatorHandlers {
  const authorized = (call: grpc.ServerUnaryCall<unknown, unknown>): boolean => {
    const presented = call.metadata.get('authorization')[0];
    return typeof presented === 'string' && sameSecret(presented, `Bearer ${token}`);
  };
  const unauthenticated = () =>
    statusError(grpc.status.UNAUTHENTICATED, 'wrong or missing coordinator token (RINGTRAIN_TOKEN)');
  const guard =
    <Request, Response>(handle: (request: Request) => Response): grpc.handleUnaryCall<Request, Response> =>
    (call, callback) => {
      if (!authorized(call)) {
        callback(unauthenticated());
        return;
      }
      try {
        callback(null, handle(call.request));
      } catch (error) {
        callback(
          error instanceof StaleGenerationError
            ? statusError(grpc.status.FAILED_PRECONDITION, error.message)
            : statusError(grpc.status.INTERNAL, String(error))
        );
      }
    };
  const ack =
    <Request>(handle: (request: Request) => void) =>
    (request: Request) => {
      handle(request);
      return {};
    };
  return {
    Register: (call, callback) => {
      if (!authorized(call)) {
        callback(unauthenticated());
        return;
      }
      service.register(call.request.workerId, call.request.collectiveAddress, (answer) =>
        'refused' in answer
          ? callback(statusError(REFUSAL_STATUS[answer.refused], answer.message))
          : callback(null, answer)
      );
    },
    Heartbeat: guard((request) => service.heartbeat(request.workerId, request.generation)),
    ReportStep: guard(ack((report) => service.reportStep(report))),
    ReportEpoch: guard(ack((report) => service.reportEpoch(report))),
    ReportCheckpoint: guard(ack((report) => service.reportCheckpoint(report))),
    ReportFailure: guard(ack((report) => service.reportFailure(report))),
    ReportFinished: guard(ack((report) => service.reportFinished(report)))
  };
}

/** Serves `service` on host:port (0: a free port) until `stopGrpcServer`; resolves with the bound address. */
export async function startGrpcServer(options: {
  host: string;
  port: number;
  token: string;
  service: CoordinatorService;
  /** The run's identity: mutual TLS, so only a holder of a certificate of the run's CA may call. */
  tls?: RunIdentityPems;
}): Promise<{ server: grpc.Server; address: string }> {
  const server = new grpc.Server({
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 5_000
  });
  server.addService(
    coordinatorProto().ringtrain.coordinator.v1.Coordinator.service,
    handlers(options.service, options.token)
  );
  const target = formatHostPort(options.host, options.port);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(target, serverCredentials(options.tls), (error, bound) =>
      error ? reject(new Error(`the coordinator cannot listen on ${target}: ${error.message}`)) : resolve(bound)
    )
  );
  return { server, address: formatHostPort(options.host, port) };
}

function serverCredentials(tls: RunIdentityPems | undefined): grpc.ServerCredentials {
  if (tls === undefined) return grpc.ServerCredentials.createInsecure();
  return grpc.ServerCredentials.createSsl(tls.ca, [{ private_key: tls.privateKey, cert_chain: tls.certificate }], true);
}

/** Lets calls in flight finish, for at most 2 s. */
export function stopGrpcServer(server: grpc.Server): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.forceShutdown(), 2_000);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
