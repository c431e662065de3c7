/**
 * @ringtrain/model: ResNet18 in TensorFlow.js, torchvision-layout weights, transforms, compute backends and
 * the training step. This file is the package's whole public API.
 */
export { BACKEND_NAMES, initBackend, parseBackendRequest } from './backend.js';
export type { BackendChoice, BackendName, BackendRequest, InitBackendOptions, NativeRuntime } from './backend.js';
export { chooseComputeThreads } from './compute-threads.js';
export type { ComputeThreads, ComputeThreadsOptions } from './compute-threads.js';
export { ResNet18, BN_EPSILON, BN_MOMENTUM } from './resnet18.js';
export type { ForwardOptions } from './resnet18.js';
export { FORWARD_STAGES, resnet18Spec } from './resnet18-spec.js';
export type { ForwardStage, TensorKind, TensorSpec } from './resnet18-spec.js';
export { SeededRandom } from './random.js';
export type { UniformSource } from './random.js';
export { decodeSafetensors, encodeSafetensors, SafetensorsError } from './safetensors.js';
export type { RawTensor, SafetensorsDtype, SafetensorsFile } from './safetensors.js';
export { loadSafetensorsWeights, saveSafetensorsWeights, WeightsMismatchError } from './weights.js';
export type { LoadedWeights, LoadWeightsOptions } from './weights.js';
export { labelsJson, loadTfjsModel, saveTfjsModel, TFJS_MODEL_FORMAT } from './tfjs-model.js';
export {
  applyCropPlan,
  IMAGENET_MEAN,
  IMAGENET_STD,
  normalize,
  planEvalResize,
  planRandomResizedCrop
} from './transforms.js';
export type { CropBox, EvalResizePlan, RandomResizedCropOptions } from './transforms.js';
export { evaluateBatch, predictLogits, softmax } from './evaluate.js';
export type { BatchEvaluation } from './evaluate.js';
export { Trainer } from './trainer.js';
export type {
  GradientBucket,
  GradientResult,
  LayoutEntry,
  ReadyGradientBucket,
  StepResult,
  TrainingBatch
} from './trainer.js';
export {
  learningRate,
  LrScheduleSchema,
  OptimizerConfigSchema,
  parseTrainingConfig,
  TrainingConfigSchema
} from './training-config.js';
export type { LrSchedule, OptimizerConfig, TrainingConfig, TrainingConfigInput } from './training-config.js';
export { benchmarkTrainingStep } from './bench-train.js';
export type { TrainBenchmarkOptions, TrainBenchmarkResult } from './bench-train.js';
