import { isDeepStrictEqual } from 'node:util';
import { MAX_RUN_NAME_LENGTH } from './group-version.js';
import type { TrainingRun } from './training-run.js';

/**
 * A rule no single field's schema can say. Each is written twice on purpose: once in CEL for the API server
 * (so `kubectl apply` refuses a bad run with the field named) and once in TypeScript for the operator and
 * the table tests. Keeping both in one record is what keeps them in step; the CRD test checks every rule
 * lands in the generated YAML.
 */
export interface CrossFieldRule {
  /** Where the CEL rule sits in the schema: property names from the object's root. */
  readonly at: readonly string[];
  readonly cel: string;
  readonly message: string;
  /** The offending field, relative to `at` (CEL's `fieldPath`, with a leading dot). */
  readonly fieldPath?: string;
  /** True for transition rules (those that read `oldSelf`); checked only on update. */
  readonly transition?: boolean;
  readonly holds: (run: TrainingRun, old?: TrainingRun) => boolean;
}

/** GPU resource names of the common device plugins (NVIDIA, AMD, Intel i915 and Xe). */
export const WELL_KNOWN_GPU_RESOURCES: readonly string[] = [
  'nvidia.com/gpu',
  'amd.com/gpu',
  'gpu.intel.com/i915',
  'gpu.intel.com/xe'
];

/** Fields a running gang depends on: changing them mid-run would make the checkpoint meaningless. */
const IMMUTABLE_AFTER_START = ['model', 'dataset', 'hyperparameters', 'output'] as const;

export const CROSS_FIELD_RULES: readonly CrossFieldRule[] = [
  {
    at: [],
    cel: `size(self.metadata.name) <= ${MAX_RUN_NAME_LENGTH}`,
    message: `metadata.name must be at most ${MAX_RUN_NAME_LENGTH} characters: pod and Service names are derived from it and must fit in 63`,
    holds: (run) => run.metadata.name.length <= MAX_RUN_NAME_LENGTH
  },
  {
    at: ['spec', 'model'],
    cel: '!self.freezeBackbone || has(self.pretrained)',
    fieldPath: '.freezeBackbone',
    message: 'model.freezeBackbone needs model.pretrained: a frozen random backbone learns nothing',
    holds: (run) => !run.spec.model.freezeBackbone || run.spec.model.pretrained !== undefined
  },
  {
    at: ['spec', 'dataset'],
    cel: 'has(self.uri) != has(self.ingest)',
    message: 'set exactly one of dataset.uri (an ingested dataset) or dataset.ingest (a source to ingest first)',
    holds: (run) => (run.spec.dataset.uri === undefined) !== (run.spec.dataset.ingest === undefined)
  },
  {
    at: ['spec', 'hyperparameters'],
    cel: 'self.warmupEpochs < self.epochs',
    fieldPath: '.warmupEpochs',
    message: 'hyperparameters.warmupEpochs must be less than hyperparameters.epochs',
    holds: (run) => run.spec.hyperparameters.warmupEpochs < run.spec.hyperparameters.epochs
  },
  {
    at: ['spec', 'workers'],
    // Without workers.gpu.resourceName the API server cannot know the operator's cluster default, so it
    // refuses the device plugins' usual names instead: a GPU in limits beside workers.gpu would be asked twice.
    cel:
      'self.gpu.count == 0 || !has(self.resources) || !has(self.resources.limits) || (has(self.gpu.resourceName) ? !(self.gpu.resourceName in self.resources.limits) : ' +
      `!self.resources.limits.exists(name, name in [${WELL_KNOWN_GPU_RESOURCES.map((name) => `'${name}'`).join(', ')}]))`,
    fieldPath: '.resources.limits',
    message: 'set GPUs with workers.gpu (resourceName, count), not in workers.resources.limits',
    holds: (run) => {
      const { gpu, resources } = run.spec.workers;
      if (gpu.count === 0) return true;
      const gpuNames: readonly string[] =
        gpu.resourceName !== undefined ? [gpu.resourceName] : WELL_KNOWN_GPU_RESOURCES;
      return !Object.keys(resources?.limits ?? {}).some((name) => gpuNames.includes(name));
    }
  },
  {
    at: ['spec'],
    cel: "(has(self.managedBy) ? self.managedBy : '') == (has(oldSelf.managedBy) ? oldSelf.managedBy : '')",
    fieldPath: '.managedBy',
    message: 'spec.managedBy is immutable: a run belongs to one controller for its whole life',
    transition: true,
    holds: (run, old) => old === undefined || run.spec.managedBy === old.spec.managedBy
  },
  {
    at: [],
    cel:
      // status.attempt, not startTime: startTime restarts on every resume (Job semantics), attempt never clears.
      '!has(oldSelf.status) || !has(oldSelf.status.attempt) || (' +
      [
        ...IMMUTABLE_AFTER_START.map((f) => `self.spec.${f} == oldSelf.spec.${f}`),
        'self.spec.workers.replicas == oldSelf.spec.workers.replicas'
      ].join(' && ') +
      ')',
    fieldPath: '.spec',
    message: `spec.${IMMUTABLE_AFTER_START.join(', spec.')} and spec.workers.replicas are immutable once the run has started; create a new TrainingRun`,
    transition: true,
    holds: (run, old) =>
      old?.status?.attempt === undefined ||
      (IMMUTABLE_AFTER_START.every((f) => isDeepStrictEqual(run.spec[f], old.spec[f])) &&
        run.spec.workers.replicas === old.spec.workers.replicas)
  }
];
