// The operator package's one API: the TrainingRun contract (schema, types, validation, CRD) and the
// operator built on it.
export * from './api/group-version.js';
export {
  TrainingRunSpecSchema,
  EXTENDED_RESOURCE_NAME,
  type TrainingRunSpec,
  type TrainingRunSpecInput,
  type EnvVar,
  type Toleration,
  type Quantity
} from './api/spec-schema.js';
export {
  TrainingRunStatusSchema,
  PHASES,
  FAILURE_REASONS,
  type TrainingRunStatus,
  type Phase,
  type Condition,
  type LastFailure
} from './api/status-schema.js';
export { TrainingRunSchema, type TrainingRun, type TrainingRunInput, type ObjectMeta } from './api/training-run.js';
export {
  validateTrainingRun,
  parseTrainingRun,
  InvalidTrainingRunError,
  type FieldError,
  type Validated
} from './api/validate.js';
export { CROSS_FIELD_RULES, type CrossFieldRule } from './api/validation-rules.js';
export { generateCrd, crdYaml, trainingRunOpenApiSchema, CRD_PATH, type JsonSchema } from './api/crd.js';
export {
  names,
  ownerReference,
  COORDINATOR_GRPC_PORT,
  COORDINATOR_HTTP_PORT,
  WORKER_COLLECTIVE_PORT,
  LABEL_RUN,
  LABEL_ROLE,
  LABEL_RANK,
  LABEL_ATTEMPT
} from './resources/names.js';
export {
  buildSecret,
  buildConfigMap,
  buildCoordinatorPod,
  buildCoordinatorService,
  buildWorkerPod,
  buildWorkersService,
  coordinatorRunConfig,
  type ClusterSettings
} from './resources/templates.js';
export { classifyPodFailure, type FailureVerdict, type FailureReason } from './reconcile/failure-policy.js';
export { setCondition, CONDITION_TYPES, type ConditionType } from './reconcile/conditions.js';
export {
  planReconcile,
  type Plan,
  type PlanOptions,
  type Observed,
  type Action,
  type RunEvent,
  type CoordinatorProgress,
  type CoordinatorReport,
  type IngestProgress,
  type RunPlanSummary
} from './reconcile/plan.js';
export { registerOperatorCommand, runOperatorCommand, OperatorUsageError } from './cli-command.js';
import type { OperatorOptions, RunningOperator } from './controller/operator.js';
export type { OperatorOptions, RunningOperator };
export type { ProgressSource } from './controller/progress.js';
export { progressFromCoordinatorStatus } from './controller/progress.js';
export { RunIdentityIssuer, type RunTlsIdentity } from './resources/run-identity.js';

/**
 * Starts the operator (list+watch, work queue, leader election, /healthz, /metrics). Loaded on first use so
 * that importing this package for its types and schema does not load the Kubernetes client.
 */
export async function startOperator(options?: OperatorOptions): Promise<RunningOperator> {
  const { startOperator: start } = await import('./controller/operator.js');
  return start(options);
}
