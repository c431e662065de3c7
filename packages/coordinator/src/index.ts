/**
 * @ringtrain/coordinator: one run's control plane (rendezvous, generations, heartbeats, restarts, progress,
 * /status, /metrics, the dashboard at /, the run plan, metrics.json) and the client that workers use to talk
 * to it. This file is the package's whole public API.
 */
export {
  Coordinator,
  type CheckpointRecord,
  type CoordinatorEvents,
  type CoordinatorOptions,
  type EpochRecord,
  type HungWorker,
  type RestartRecord,
  type RunMetricsFile,
  type RunResult,
  type RunState,
  type RunStatus,
  type StepRecord
} from './coordinator.js';
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
  type StepReport
} from './client.js';
export {
  iterationsOfEpoch,
  resolveRunConfig,
  RunConfigResolutionError,
  stepsPerEpoch,
  type DatasetShape
} from './resolve-config.js';
export {
  readRunRecord,
  RunRecordError,
  RunRecordSchema,
  RUN_RECORD_KEY,
  writeRunRecord,
  type RunRecord
} from './run-record.js';
export { checkpointsUri, parseRunConfig, RunConfigSchema, type RunConfig, type RunConfigInput } from './run-config.js';
export {
  describeBackends,
  describeRunPlan,
  loadRunPlan,
  renderRunPlan,
  type DatasetCounts,
  type RunPlan
} from './run-plan.js';
export {
  confusionRows,
  perClassAccuracy,
  RunTimeline,
  type ClassAccuracy,
  type RankStepTimes,
  type RunTimelineEvents,
  type StepPoint,
  type ValidationByClass
} from './run-timeline.js';
export { dashboardData, isDashboardPath, type DashboardData } from './dashboard/dashboard.js';
export { DatasetIngestError } from './ingest-before-training.js';
export { createLogger, type Logger } from './logger.js';
