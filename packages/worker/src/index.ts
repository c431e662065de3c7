/**
 * @ringtrain/worker: the training loop of one rank (loader → model → ring all-reduce → optimizer), its
 * checkpoints and its reports to the coordinator. This file is the package's whole public API.
 */
export { runWorker, RunFailedError, type WorkerOptions, type WorkerResult } from './worker.js';
export { WorkerConfigError } from './train-generation.js';
export {
  checkGpuBackend,
  GpuUnavailableError,
  MIN_NVIDIA_DRIVER,
  MIN_NVIDIA_DRIVER_SM90,
  observeGpuHost,
  type BackendOutcome,
  type GpuExpectation,
  type GpuHostFacts,
  type GpuVerdict
} from './gpu-check.js';
export {
  CheckpointIntegrityError,
  CheckpointStore,
  CheckpointPointerSchema,
  DataCursorSchema,
  POINTER_KEY,
  type CheckpointPointer,
  type DataCursor
} from './checkpoint-store.js';
export {
  evaluateModel,
  EVAL_PIPELINE,
  loadTrainedModel,
  predictFiles,
  TrainedModelError,
  type EvaluateOptions,
  type EvaluationReport,
  type Prediction,
  type TrainedModel
} from './inference.js';
