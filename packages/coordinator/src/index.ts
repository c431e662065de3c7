/**
 * @ringtrain/coordinator: one run's control plane (rendezvous, generations, heartbeats, restarts, progress,
 * /status, /metrics, the dashboard at /, the run plan, metrics.json). The client that workers reach it with,
 * the run configuration and the logger are @ringtrain/protocol's. This file is the package's whole public API.
 */
export { Coordinator, type CoordinatorEvents, type CoordinatorOptions } from './coordinator.js';
export type {
  CheckpointRecord,
  EpochRecord,
  HungWorker,
  RestartRecord,
  RunState,
  RunStatus,
  StepRecord
} from './records.js';
export type { RunMetricsFile, RunResult } from './metrics-file.js';
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
export {
  describeBackends,
  describeRunPlan,
  loadRunPlan,
  renderRunPlan,
  type DatasetCounts,
  type RunPlan
} from './run-plan.js';
export { RunTimeline, type RankStepTimes, type RunTimelineEvents, type StepPoint } from './run-timeline.js';
export { dashboardData, isDashboardPath, type DashboardData } from './dashboard/dashboard.js';
export { DatasetIngestError } from './ingest-before-training.js';
