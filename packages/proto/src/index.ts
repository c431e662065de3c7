import { fileURLToPath } from 'node:url';
import { loadSync, type Options, type PackageDefinition } from '@grpc/proto-loader';

/** The folder holding every `.proto` contract of Ringtrain. */
export const PROTO_DIR = fileURLToPath(new URL('../proto', import.meta.url));

/**
 * Loader options shared by the runtime loader and the type generator (`npm run generate`): the generated
 * types describe exactly the objects these options produce, so the two must never differ.
 */
export const LOADER_OPTIONS = {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR]
} as const satisfies Options;

/**
 * The most ranks one run may have (`world_size` of every contract): the coordinator's run configuration and
 * the TrainingRun CRD's `spec.workers.replicas` both take their bound from here, so the API server refuses at
 * admission a run the coordinator would refuse after its whole gang was created.
 */
export const MAX_WORLD_SIZE = 256;

/**
 * A rank's collective stripe k (hyperparameters.collectiveStripes) listens on its port + k · STRIPE_PORT_STEP
 * when its port is fixed: a pod's local ranks take 50052, 50053, …, so no stripe collides with another rank's
 * port while a pod has fewer ranks than this; the operator declares each.
 */
export const STRIPE_PORT_STEP = 256;

export type ProtoFile = 'collective.proto' | 'dataset.proto' | 'coordinator.proto';

/** Loads one contract as a gRPC package definition (services keyed by their full name). */
export function loadProto(file: ProtoFile): PackageDefinition {
  return loadSync(file, LOADER_OPTIONS);
}

export type { ProtoGrpcType as CollectiveProto } from './generated/collective.js';
export type { LinkRequest, LinkRequest__Output } from './generated/ringtrain/collective/v1/LinkRequest.js';
export type { Frame, Frame__Output } from './generated/ringtrain/collective/v1/Frame.js';
export type { ProtoGrpcType as DatasetProto } from './generated/dataset.js';
export type { DatasetServiceHandlers, DatasetServiceClient } from './generated/ringtrain/dataset/v1/DatasetService.js';
export type {
  GetEpochPlanRequest,
  GetEpochPlanRequest__Output
} from './generated/ringtrain/dataset/v1/GetEpochPlanRequest.js';
export type {
  GetEpochPlanResponse,
  GetEpochPlanResponse__Output
} from './generated/ringtrain/dataset/v1/GetEpochPlanResponse.js';
export type {
  GetManifestResponse,
  GetManifestResponse__Output
} from './generated/ringtrain/dataset/v1/GetManifestResponse.js';
export type { ProtoGrpcType as CoordinatorProto } from './generated/coordinator.js';
export type { CoordinatorHandlers, CoordinatorClient } from './generated/ringtrain/coordinator/v1/Coordinator.js';
export type {
  RegisterResponse,
  RegisterResponse__Output
} from './generated/ringtrain/coordinator/v1/RegisterResponse.js';
export type { StepReport, StepReport__Output } from './generated/ringtrain/coordinator/v1/StepReport.js';
export type { EpochReport, EpochReport__Output } from './generated/ringtrain/coordinator/v1/EpochReport.js';
export type { RankStepTime, RankStepTime__Output } from './generated/ringtrain/coordinator/v1/RankStepTime.js';
export {
  DEFAULT_RECONNECT_DEADLINE_SECONDS,
  EXIT_CODES,
  exitCodeClass,
  type ExitClass,
  type ExitCodeMeaning,
  type ExitCodeName
} from './exit-codes.js';
export {
  DEFAULT_CHECKPOINT_EVERY_STEPS,
  DEFAULT_KEEP_CHECKPOINTS,
  GRADIENT_WIRES,
  HYPERPARAMETER_DEFAULTS,
  HyperparametersSchema,
  MAX_COLLECTIVE_STRIPES,
  runSettingsFromHyperparameters,
  type FreezeSettings,
  type GradientWire,
  type Hyperparameters,
  type HyperparametersInput
} from './hyperparameters.js';
export { DEFAULT_COLLECTIVE_TIMEOUT_SECONDS, DEFAULT_HEARTBEAT_TIMEOUT_SECONDS } from './timeouts.js';
export { cgroupCpuQuota, cgroupMemoryLimit, readCgroupFile, type ReadCgroupFile } from './cgroup-limits.js';
export { describeRetry, logRetryToStderr, retryUntilDeadline, type Patience, type RetryEvent } from './retry.js';
export { formatHostPort } from './host-port.js';
export { sameSecret } from './same-secret.js';
export { readSecretFile } from './secret-file.js';
export { readRunIdentity, RUN_IDENTITY_FILES, RUN_IDENTITY_SERVER_NAME, type RunIdentityPems } from './run-identity.js';
export { canonicalJson, checkHmac, RunStateKey, runStateKeyFromEnv, withHmac } from './run-state-key.js';
