import { isDeepStrictEqual } from 'node:util';
import { MAX_WORLD_SIZE } from '@ringtrain/proto';
import { MAX_RUN_NAME_LENGTH } from './group-version.js';
import {
  RESERVED_ANNOTATION_KEYS,
  RESERVED_LABEL_KEYS,
  RESERVED_LABEL_PREFIX,
  RESERVED_MOUNT_PATHS,
  RESERVED_VOLUME_NAMES
} from './pod-template-schema.js';
import { ranksPerPod, ranksPerPodCel, worldSize } from './ranks.js';
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

const celList = (items: readonly string[]) => `[${items.map((item) => `'${item}'`).join(', ')}]`;

const VOLUME_SOURCES = ['persistentVolumeClaim', 'configMap', 'secret', 'emptyDir'] as const;

const isReservedMountPath = (path: string) =>
  RESERVED_MOUNT_PATHS.some((reserved) => path === reserved || path.startsWith(`${reserved}/`));

const isReservedKey = (reserved: readonly string[]) => (key: string) =>
  key.startsWith(RESERVED_LABEL_PREFIX) || reserved.includes(key);

/**
 * What a role's pod-template fields may not touch: the operator's volumes, mount paths, labels and annotations
 * (its selectors, NetworkPolicy and Services find pods by them). Refused at admission with the field named,
 * rather than silently overridden; the pod builders also put the operator's values last, for objects admitted
 * before these rules. Environment variables are overridden instead (ours come last): a user's RINGTRAIN_LOG_LEVEL
 * or RINGTRAIN_BACKEND is legitimate, and RINGTRAIN_TOKEN given by a user never reaches the process.
 */
function podTemplateRules(role: 'workers' | 'coordinator'): CrossFieldRule[] {
  const at = ['spec', role];
  const spec = (run: TrainingRun) => run.spec[role];
  return [
    {
      at,
      cel: `!has(self.volumes) || self.volumes.all(v, ${VOLUME_SOURCES.map((source) => `(has(v.${source}) ? 1 : 0)`).join(' + ')} == 1)`,
      fieldPath: '.volumes',
      message: `each of spec.${role}.volumes needs exactly one of ${VOLUME_SOURCES.join(', ')} (hostPath and other sources are not offered)`,
      holds: (run) =>
        (spec(run).volumes ?? []).every(
          (volume) => VOLUME_SOURCES.filter((source) => volume[source] !== undefined).length === 1
        )
    },
    {
      at,
      cel: `!has(self.volumes) || self.volumes.all(v, !(v.name in ${celList(RESERVED_VOLUME_NAMES)}))`,
      fieldPath: '.volumes',
      message: `spec.${role}.volumes may not be named ${RESERVED_VOLUME_NAMES.join(', ')}: the operator's own volumes`,
      holds: (run) => (spec(run).volumes ?? []).every((volume) => !RESERVED_VOLUME_NAMES.includes(volume.name))
    },
    {
      at,
      cel: `!has(self.volumeMounts) || self.volumeMounts.all(m, has(self.volumes) && self.volumes.exists(v, v.name == m.name))`,
      fieldPath: '.volumeMounts',
      message: `each of spec.${role}.volumeMounts must name one of spec.${role}.volumes`,
      holds: (run) =>
        (spec(run).volumeMounts ?? []).every((mount) => (spec(run).volumes ?? []).some((v) => v.name === mount.name))
    },
    {
      at,
      cel: `!has(self.volumeMounts) || self.volumeMounts.all(m, !${celList(RESERVED_MOUNT_PATHS)}.exists(p, m.mountPath == p || m.mountPath.startsWith(p + '/')))`,
      fieldPath: '.volumeMounts',
      message: `spec.${role}.volumeMounts may not mount at or beneath ${RESERVED_MOUNT_PATHS.join(', ')}: the operator's own mounts`,
      holds: (run) => (spec(run).volumeMounts ?? []).every((mount) => !isReservedMountPath(mount.mountPath))
    },
    {
      at,
      cel: `!has(self.labels) || self.labels.all(k, !k.startsWith('${RESERVED_LABEL_PREFIX}') && !(k in ${celList(RESERVED_LABEL_KEYS)}))`,
      fieldPath: '.labels',
      message: `spec.${role}.labels may not set ${RESERVED_LABEL_PREFIX}* or ${RESERVED_LABEL_KEYS.join(', ')}: the operator's selectors use them`,
      holds: (run) => Object.keys(spec(run).labels ?? {}).every((key) => !isReservedKey(RESERVED_LABEL_KEYS)(key))
    },
    {
      at,
      cel: `!has(self.annotations) || self.annotations.all(k, !k.startsWith('${RESERVED_LABEL_PREFIX}') && !(k in ${celList(RESERVED_ANNOTATION_KEYS)}))`,
      fieldPath: '.annotations',
      message: `spec.${role}.annotations may not set ${RESERVED_LABEL_PREFIX}* or ${RESERVED_ANNOTATION_KEYS.join(', ')}: the operator's`,
      holds: (run) =>
        Object.keys(spec(run).annotations ?? {}).every((key) => !isReservedKey(RESERVED_ANNOTATION_KEYS)(key))
    }
  ];
}

/** Ranks per pod (ranks.ts): one per GPU, a ring within the coordinator's bound, fixed once the run has started. */
const RANK_LAYOUT_RULES: readonly CrossFieldRule[] = [
  {
    at: ['spec', 'workers'],
    cel: 'self.gpu.count == 0 || !has(self.ranksPerPod) || self.ranksPerPod == self.gpu.count',
    fieldPath: '.ranksPerPod',
    message:
      'workers.ranksPerPod must equal workers.gpu.count (one rank per GPU, each process seeing its own device) or be left unset; for several CPU ranks per pod set workers.gpu.count: 0',
    holds: (run) => {
      const { gpu, ranksPerPod: set } = run.spec.workers;
      return gpu.count === 0 || set === undefined || set === gpu.count;
    }
  },
  {
    at: ['spec', 'workers'],
    cel: `self.replicas * ${ranksPerPodCel('self')} <= ${MAX_WORLD_SIZE}`,
    fieldPath: '.replicas',
    message: `workers.replicas × ranks per pod (workers.ranksPerPod, default gpu.count) is the ring's size and must be at most ${MAX_WORLD_SIZE}: use fewer pods or fewer ranks per pod`,
    holds: (run) => worldSize(run.spec.workers) <= MAX_WORLD_SIZE
  },
  {
    at: [],
    cel: `!has(oldSelf.status) || !has(oldSelf.status.attempt) || ${ranksPerPodCel('self.spec.workers')} == ${ranksPerPodCel('oldSelf.spec.workers')}`,
    fieldPath: '.spec.workers.ranksPerPod',
    message:
      "ranks per pod (spec.workers.ranksPerPod, default spec.workers.gpu.count) are immutable once the run has started: the ring's size fixes its epoch plans; create a new TrainingRun",
    transition: true,
    holds: (run, old) =>
      old?.status?.attempt === undefined || ranksPerPod(run.spec.workers) === ranksPerPod(old.spec.workers)
  }
];

export const CROSS_FIELD_RULES: readonly CrossFieldRule[] = [
  ...podTemplateRules('workers'),
  ...podTemplateRules('coordinator'),
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
  ...RANK_LAYOUT_RULES,
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
