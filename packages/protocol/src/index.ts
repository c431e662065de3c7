/**
 * @ringtrain/protocol: the contract between a run's coordinator and its workers beyond the `.proto` they speak
 * (@ringtrain/proto): the client a worker reaches the coordinator with, the run configuration the coordinator
 * hands every worker, validation by class as both sides compute it, and the one logger per process. Nothing
 * here loads the coordinator's server (its ingest, dashboard or Prometheus registry), so a worker loads only
 * what a worker runs. This file is the package's whole public API.
 */
export {
  CoordinatorConnection,
  type CoordinatorWait,
  CoordinatorUnavailableError,
  RegistrationAbortedError,
  type Assignment,
  type CheckpointReportInput,
  type EpochReport,
  type FailureReportInput,
  type FinishedReportInput,
  type HeartbeatAnswer,
  type RegisterOutcome,
  type RunOutcome,
  type StepReport
} from './client.js';
export { checkpointsUri, parseRunConfig, RunConfigSchema, type RunConfig, type RunConfigInput } from './run-config.js';
export { confusionRows, perClassAccuracy, type ClassAccuracy, type ValidationByClass } from './class-accuracy.js';
export { createLogger, type Logger } from './logger.js';
