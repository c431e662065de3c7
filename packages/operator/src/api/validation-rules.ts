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

/** Fields a running gang depends on: changing them mid-run would make the checkpoint meaningless. */
const IMMUTABLE_AFTER_START = ['model', 'dataset', 'hyperparameters', 'output'] as const;

export const CROSS_FIELD_RULES: readonly CrossFieldRule[] = [
  {
    at: [],
    cel: `size(self.metadata.name) <= ${MAX_RUN_NAME_LENGTH}`,
    message: `metadata.name must be at most ${MAX_RUN_NAME_LENGTH} characters: pod and Service names are derived from it and must fit in 63`,
    holds: (run) => run.metadata.name.length <= MAX_RUN_NAME_LENGTH,
  },
  {
    at: ['spec', 'model'],
    cel: '!self.freezeBackbone || has(self.pretrained)',
    fieldPath: '.freezeBackbone',
    message: 'model.freezeBackbone needs model.pretrained: a frozen random backbone learns nothing',
    holds: (run) => !run.spec.model.freezeBackbone || run.spec.model.pretrained !== undefined,
  },
  {
    at: ['spec', 'dataset'],
    cel: 'has(self.uri) != has(self.ingest)',
    message: 'set exactly one of dataset.uri (an ingested dataset) or dataset.ingest (a source to ingest first)',
    holds: (run) => (run.spec.dataset.uri === undefined) !== (run.spec.dataset.ingest === undefined),
  },
  {
    at: ['spec', 'hyperparameters'],
    cel: 'self.warmupEpochs < self.epochs',
    fieldPath: '.warmupEpochs',
    message: 'hyperparameters.warmupEpochs must be less than hyperparameters.epochs',
    holds: (run) => run.spec.hyperparameters.warmupEpochs < run.spec.hyperparameters.epochs,
  },
  {
    at: ['spec', 'workers'],
    cel: 'self.gpu.count == 0 || !has(self.resources) || !has(self.resources.limits) || !(self.gpu.resourceName in self.resources.limits)',
    fieldPath: '.resources.limits',
    message: 'set GPUs with workers.gpu (resourceName, count), not in workers.resources.limits',
    holds: (run) => {
      const { gpu, resources } = run.spec.workers;
      return gpu.count === 0 || resources?.limits?.[gpu.resourceName] === undefined;
    },
  },
  {
    at: ['spec'],
    cel: "(has(self.managedBy) ? self.managedBy : '') == (has(oldSelf.managedBy) ? oldSelf.managedBy : '')",
    fieldPath: '.managedBy',
    message: 'spec.managedBy is immutable: a run belongs to one controller for its whole life',
    transition: true,
    holds: (run, old) => old === undefined || run.spec.managedBy === old.spec.managedBy,
  },
  {
    at: [],
    cel:
      // status.attempt, not startTime: startTime restarts on every resume (Job semantics), attempt never clears.
      '!has(oldSelf.status) || !has(oldSelf.status.attempt) || (' +
      [...IMMUTABLE_AFTER_START.map((f) => `self.spec.${f} == oldSelf.spec.${f}`), 'self.spec.workers.replicas == oldSelf.spec.workers.replicas'].join(
        ' && ',
      ) +
      ')',
    fieldPath: '.spec',
    message: `spec.${IMMUTABLE_AFTER_START.join(', spec.')} and spec.workers.replicas are immutable once the run has started; create a new TrainingRun`,
    transition: true,
    holds: (run, old) =>
      old?.status?.attempt === undefined ||
      (IMMUTABLE_AFTER_START.every((f) => isDeepStrictEqual(run.spec[f], old.spec[f])) &&
        run.spec.workers.replicas === old.spec.workers.replicas),
  },
];
