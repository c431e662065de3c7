import {
  DEFAULT_CHECKPOINT_EVERY_STEPS,
  DEFAULT_COLLECTIVE_TIMEOUT_SECONDS,
  DEFAULT_HEARTBEAT_TIMEOUT_SECONDS,
  DEFAULT_KEEP_CHECKPOINTS,
  DEFAULT_RECONNECT_DEADLINE_SECONDS,
  HyperparametersSchema,
  MAX_WORLD_SIZE
} from '@ringtrain/proto';
import { z } from 'zod';
import { OPERATOR_MANAGER } from './group-version.js';
import { podTemplateFields } from './pod-template-schema.js';

/**
 * The TrainingRun spec as one zod schema: the operator parses objects with it, `validateTrainingRun` reports
 * its issues as field paths, and `generateCrd` turns it into the CRD's OpenAPI schema, so the API server,
 * the operator and the CLI agree on one definition. Bounds (maxLength, maxItems) are there also because the
 * API server estimates the cost of CEL rules from them and refuses rules it cannot bound.
 */

const uri = (what: string) =>
  z
    .string()
    .min(1)
    .max(2048)
    .regex(/^[a-z][a-z0-9+.-]*:\/\/.+/, `${what} must be a URI with a scheme, e.g. s3://bucket/path or file:///data`)
    .meta({ description: what });

const name = (what: string) => z.string().min(1).max(253).meta({ description: what });

/**
 * An object whose default is its fields' defaults spelled out, not `{}`: the API server checks a default
 * against the CEL rules without applying the nested defaults first, so `default: {}` fails a rule such as
 * `self.warmupEpochs < self.epochs` and the CRD is refused. Spelled out, they also show in `kubectl explain`.
 */
function defaulted<T extends z.ZodObject>(schema: T) {
  return schema.default(schema.parse({}) as z.core.util.NoUndefined<z.output<T>>);
}

/**
 * An extended resource name as device plugins register them: `<DNS subdomain>/<name>` (nvidia.com/gpu,
 * amd.com/gpu, gpu.intel.com/i915). The chart's values.schema.json checks gpu.resourceName with the same pattern.
 */
export const EXTENDED_RESOURCE_NAME =
  /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** A resource quantity: `1`, `500m`, `16Gi`; the API server's int-or-string. */
export const QuantitySchema = z
  .union([
    z.int().min(0),
    z
      .string()
      .max(64)
      .regex(/^[0-9.]+[a-zA-Z]*$/, 'a quantity such as 1, 500m or 16Gi')
  ])
  .meta({ 'x-kubernetes-int-or-string': true });

const quantities = z.record(z.string().max(253), QuantitySchema).meta({ maxProperties: 32 });

/**
 * A size in bytes as Kubernetes writes it: an integer, or a decimal with a binary (Ki, Mi, Gi, Ti, Pi, Ei) or
 * decimal (k, M, G, T, P, E) suffix, as a string so the API server checks the pattern at admission (an
 * int-or-string carries no pattern). Narrower than QuantitySchema on purpose: the operator turns it into a byte
 * budget (`quantityBytes`), so `500m` bytes or `1e9` are refused, with the field named, rather than guessed.
 */
export const BYTE_QUANTITY = /^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/;
export const ByteQuantitySchema = z
  .string()
  .max(64)
  .regex(
    BYTE_QUANTITY,
    'a size such as 20Gi, 500Mi or 10G (an integer or decimal, optionally with Ki, Mi, Gi, Ti, Pi, Ei, k, M, G, T, P or E)'
  )
  .refine((size) => Number.parseFloat(size) > 0, 'a size above 0');

const BYTE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60
};

/** A ByteQuantitySchema value in bytes (rounded down). */
export function quantityBytes(size: string): number {
  const match = /^([0-9.]+)([a-zA-Z]*)$/.exec(size);
  const unit = BYTE_UNITS[match?.[2] ?? 'none'];
  if (!match || unit === undefined) throw new RangeError(`not a size in bytes: ${size}`);
  return Math.floor(Number(match[1]) * unit);
}

export const ModelSpecSchema = z
  .object({
    architecture: z.enum(['resnet18']).default('resnet18').meta({ description: 'network architecture' }),
    numClasses: z
      .int()
      .min(2)
      .max(100_000)
      .optional()
      .meta({ description: "classes of the classifier head; taken from the dataset's manifest when omitted" }),
    pretrained: uri('torchvision-layout .safetensors weights to start from (the head is replaced)').optional(),
    freezeBackbone: z.boolean().default(false).meta({ description: 'train only the classifier head' }),
    freezeBatchNorm: z.boolean().default(false).meta({
      description:
        "with freezeBackbone, keep the backbone's batch norm in inference mode too (default: train mode, running statistics adapt, as PyTorch's model.train())"
    }),
    unfreezeAfterEpochs: z.int().min(0).max(10_000).optional().meta({
      description:
        'with freezeBackbone, train the whole network once this many epochs have passed (unset: frozen for the whole run)'
    })
  })
  .meta({ description: 'the network to fine-tune' });

export const DatasetSpecSchema = z
  .object({
    uri: uri('an ingested dataset (manifest.json and shards)').optional(),
    ingest: z
      .object({
        source: uri(
          'images the coordinator ingests before training: an ImageFolder prefix (s3://bucket/prefix holding <class>/<image>) or a .csv/.jsonl manifest object of path,label rows'
        ),
        into: uri('where the ingested shards and manifest.json go; a complete dataset already there is used as it is'),
        valFraction: z
          .number()
          .min(0)
          .max(0.5)
          .default(0.1)
          .meta({ description: 'fraction of each class held out for validation, chosen with hyperparameters.seed' }),
        maxResolution: z.int().min(8).max(65_535).optional().meta({
          description:
            "images whose longer side exceeds this many pixels are downscaled to it (stored as JPEG q90), as ringtrain ingest --max-resolution does; default: twice hyperparameters.imageSize, at least 64 (as ringtrain train). Smaller images decode faster in every epoch, and the ingest's memory follows it"
        })
      })
      .optional()
  })
  .meta({ description: 'training data: an ingested dataset URI, or a source the run ingests first' });

export const TolerationSchema = z.object({
  key: z.string().max(253).optional(),
  operator: z.enum(['Exists', 'Equal']).optional(),
  value: z.string().max(253).optional(),
  effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional(),
  tolerationSeconds: z.int().optional()
});

const keyRef = z.object({
  name: name('object name'),
  key: z.string().min(1).max(253),
  optional: z.boolean().optional()
});

export const EnvVarSchema = z.object({
  name: z
    .string()
    .min(1)
    .max(253)
    .regex(/^[-._a-zA-Z][-._a-zA-Z0-9]*$/, 'an environment variable name'),
  value: z.string().max(32_768).optional(),
  valueFrom: z
    .object({
      secretKeyRef: keyRef.optional(),
      configMapKeyRef: keyRef.optional(),
      fieldRef: z.object({ fieldPath: z.string().min(1).max(253) }).optional()
    })
    .optional()
});

/**
 * The coordinator's resources when the spec names none. The limits are sized for the ingest it runs with
 * dataset.ingest (the heaviest thing it does): it decodes as many images at once as its CPU limit and memory
 * limit allow (the cgroup's, read by @ringtrain/dataset), so 2 CPUs and 2 GiB decode 4 at once with room for
 * photos of 12 MP. The requests are what it needs the rest of the run (a run's bookkeeping), so that it
 * schedules beside its workers on a small node: an ingest bursts into the limits.
 */
export const DEFAULT_COORDINATOR_RESOURCES = {
  requests: { cpu: '250m', memory: '512Mi' },
  limits: { cpu: '2', memory: '2Gi' }
} as const;

/**
 * How much of /cache each worker may fill when the spec does not say: room for the shards of a mid-sized dataset
 * (64 MiB each) on a node's ephemeral storage shared with other pods, not the whole node's disk.
 */
export const DEFAULT_WORKER_CACHE_SIZE_LIMIT = '10Gi';

const nodeSelector = (what: string) =>
  z
    .record(z.string().max(317), z.string().max(63))
    .optional()
    .meta({ maxProperties: 32, description: `node labels required of ${what}` });
const tolerations = (what: string) =>
  z
    .array(TolerationSchema)
    .max(32)
    .optional()
    .meta({ description: `taints tolerated by ${what}` });

/** The most ranks one worker pod runs: as many as gpu.count allows (a 16-GPU node). */
export const MAX_RANKS_PER_POD = 16;

export const WorkersSpecSchema = z
  .object({
    replicas: z
      .int()
      .min(1)
      .max(MAX_WORLD_SIZE) // the coordinator's bound too (@ringtrain/proto), so a run it would refuse is refused at admission
      .default(1)
      .meta({ description: 'worker pods; each runs ranksPerPod ranks of the ring' }),
    image: z.string().min(1).max(1024).meta({ description: 'container image holding the ringtrain CLI' }),
    gpu: defaulted(
      z.object({
        // No schema default: which device plugin a cluster runs is the cluster's business (the operator's
        // --default-gpu-resource, from the chart's gpu.resourceName), not something every run should spell out.
        resourceName: z
          .string()
          .max(317)
          .regex(
            EXTENDED_RESOURCE_NAME,
            'an extended resource name such as nvidia.com/gpu, amd.com/gpu or gpu.intel.com/i915'
          )
          .optional()
          .meta({
            description:
              "extended resource name of the GPU device plugin; default: the operator's cluster setting (nvidia.com/gpu unless the chart's gpu.resourceName says otherwise)"
          }),
        count: z.int().min(0).max(16).default(1).meta({ description: 'GPUs per worker (0: CPU training)' })
      })
    ).meta({ description: 'accelerators per worker, added to resources.limits' }),
    ranksPerPod: z.int().min(1).max(MAX_RANKS_PER_POD).optional().meta({
      description:
        "ranks (processes) each worker pod runs, as torchrun's --nproc-per-node: one per GPU, each with CUDA_VISIBLE_DEVICES set to its own device and its own collective port (50052 + local index); ring neighbours share a pod. Default: gpu.count, or 1 with gpu.count 0; with GPUs it must equal gpu.count. Set it with gpu.count 0 for several CPU ranks per pod. The ring has replicas × ranksPerPod ranks. Not yet run on a multi-GPU node"
    }),
    resources: z.object({ requests: quantities.optional(), limits: quantities.optional() }).optional().meta({
      description:
        'per-worker CPU, memory and ephemeral-storage requests and limits; ephemeral-storage unset: cacheSizeLimit plus 1Gi for logs and /tmp, requested and limited (a limit must exceed cacheSizeLimit, as /cache counts toward it)'
    }),
    nodeSelector: nodeSelector('worker pods'),
    tolerations: tolerations('worker pods'),
    env: z.array(EnvVarSchema).max(128).optional().meta({
      description:
        "environment of the worker container; the operator's own variables (RINGTRAIN_TOKEN, RINGTRAIN_RANK, ...) come last and win"
    }),
    ...podTemplateFields('the worker pods'),
    cacheSizeLimit: ByteQuantitySchema.default(DEFAULT_WORKER_CACHE_SIZE_LIMIT).meta({
      description:
        "sizeLimit of each worker's /cache emptyDir, where it keeps downloaded shards; the shard cache keeps 90% of it as its byte budget (least recently used shards evicted) and the kubelet evicts a pod past the limit. Must hold a few shards (64 MiB each by default)"
    })
  })
  .meta({ description: 'the worker pods: replicas pods of ranksPerPod ranks each' });

export const CoordinatorSpecSchema = defaulted(
  z.object({
    image: z.string().min(1).max(1024).optional().meta({
      description:
        "container image of the coordinator (ringtrain coordinator); default: workers.image, because coordinator and workers must speak the same version of the run's contract. On GPU clusters set the CPU build of the same version (the worker-cpu image) so that the coordinator does not pull the GPU image"
    }),
    resources: z
      .object({ requests: quantities.optional(), limits: quantities.optional() })
      .default({
        requests: { ...DEFAULT_COORDINATOR_RESOURCES.requests },
        limits: { ...DEFAULT_COORDINATOR_RESOURCES.limits }
      })
      .meta({
        description:
          "the coordinator's CPU and memory, used as given when set (Kubernetes defaults requests to limits). The in-cluster ingest decodes as many images at once as these limits allow; an OOMKilled coordinator names coordinator.resources.limits.memory. ephemeral-storage unset: 1Gi requested and limited (logs and /tmp)"
      }),
    nodeSelector: nodeSelector(
      'the coordinator pod; not inherited from workers, so it need not land on (or wait for) a GPU node'
    ),
    tolerations: tolerations('the coordinator pod; not inherited from workers'),
    env: z.array(EnvVarSchema).max(128).optional().meta({
      description:
        "environment of the coordinator container; the operator's own variables (RINGTRAIN_TOKEN, ...) come last and win"
    }),
    ...podTemplateFields('the coordinator pod')
  })
).meta({
  description: 'the coordinator pod: rendezvous, checkpoints bookkeeping, /status, and the ingest of dataset.ingest'
});

/** The hyperparameters' one schema and defaults live in @ringtrain/proto, shared with `ringtrain train`'s flags. */
export const HyperparametersSpecSchema = defaulted(HyperparametersSchema);

export const CheckpointSpecSchema = defaulted(
  z.object({
    uri: uri('where checkpoints go (default: <output.uri>/checkpoints)').optional(),
    everySteps: z
      .int()
      .min(1)
      .max(10_000_000)
      .default(DEFAULT_CHECKPOINT_EVERY_STEPS)
      .meta({ description: 'rank 0 writes a checkpoint every this many optimizer steps, and at every epoch end' }),
    keep: z.int().min(1).max(100).default(DEFAULT_KEEP_CHECKPOINTS)
  })
).meta({ description: 'checkpoints: the gang resumes from the last one after a failure' });

export const StorageSpecSchema = z
  .object({
    endpoint: z.url().max(2048).optional().meta({ description: 'S3/MinIO endpoint, e.g. http://minio.storage:9000' }),
    credentialsSecretRef: z
      .object({ name: name('a Secret with keys AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY') })
      .optional()
  })
  .meta({ description: 'object store for s3:// URIs' });

/**
 * Time for a pod to stop cleanly: finish the step in flight and write a checkpoint. On the slowest backend we
 * support (wasm, one thread: 0.77 images/s at 224 px, docs/benchmarks.md) the default 32-image step takes ~42 s;
 * a ~140 MB checkpoint at a modest 10 MB/s to object storage ~14 s; ~60 s together, doubled for shared cores
 * (single runs vary by ±40% there). The Kubernetes default of 30 s would kill that rank mid-write.
 */
export const DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS = 120;

/**
 * All of a gang's pods placed at once or none: the coscheduling plugin of kubernetes-sigs/scheduler-plugins, as a
 * second scheduler, holds the pods of a PodGroup until minMember of them fit. Without it, a gang that does not fit
 * holds the nodes its placed pods took while the rest wait.
 */
export const GangSchedulingSchema = z
  .object({
    podGroup: z
      .object({
        schedulerName: z
          .string()
          .min(1)
          .max(253)
          .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/)
          .optional()
          .meta({
            description:
              "the scheduler that runs the coscheduling plugin; unset: the operator's --pod-group-scheduler (the chart's operator.podGroups.schedulerName). Set on both roles' pods, over their own schedulerName"
          }),
        scheduleTimeoutSeconds: z.int().min(1).max(86_400).optional().meta({
          description:
            "the PodGroup's scheduleTimeoutSeconds: how long the plugin holds placed pods waiting for the rest of the gang before it lets them go and tries again (the plugin's default when unset)"
        })
      })
      .meta({
        description:
          'a PodGroup (scheduling.x-k8s.io/v1alpha1) per run with minMember = workers.replicas + 1, its pods labelled scheduling.x-k8s.io/pod-group and scheduled by the coscheduling scheduler'
      })
  })
  .meta({
    description:
      "gang scheduling without a queue: the gang's pods are placed all at once or not at all, so a gang that does not fit holds no nodes"
  });

export const RunPolicySchema = defaulted(
  z.object({
    backoffLimit: z.int().min(0).max(1000).default(3).meta({ description: 'counted gang restarts before Failed' }),
    activeDeadlineSeconds: z.int().min(1).optional().meta({ description: 'Failed after this long since start' }),
    ttlSecondsAfterFinished: z.int().min(0).optional().meta({ description: 'deleted this long after finishing' }),
    cleanPodPolicy: z
      .enum(['All', 'Running', 'None'])
      .default('All')
      .meta({ description: 'pods deleted when the run finishes: all, only still-running ones, or none' }),
    suspend: z.boolean().default(false).meta({ description: 'true deletes the pods and keeps the checkpoint' }),
    progressDeadlineSeconds: z.int().min(30).default(3600).meta({
      description:
        "no training step reported in this long: Stalled, and a gang restart. The default bounds every phase but a wait for nodes: the clock stands still while a pod is Unschedulable (see scheduleTimeoutSeconds) and counts from when the scheduler placed the gang; the coordinator's ingest of dataset.ingest counts as progress while it moves"
    }),
    scheduleTimeoutSeconds: z.int().min(1).optional().meta({
      description:
        "how long a gang may wait for nodes (a pod Pending and Unschedulable: not enough free CPU, GPUs or memory) before the run fails with SchedulingTimeout, as PyTorchJob's schedulingPolicy.scheduleTimeoutSeconds; unset waits as long as it takes. activeDeadlineSeconds still counts the wait"
    }),
    reconnectDeadlineSeconds: z.int().min(1).max(86_400).default(DEFAULT_RECONNECT_DEADLINE_SECONDS).meta({
      description:
        'how long a pod retries unreachable object storage or its coordinator (backoff up to 15 s, a log line each) before it exits retryably (75, 80) and the gang restarts, counted against backoffLimit'
    }),
    heartbeatTimeoutSeconds: z.int().min(1).max(86_400).default(DEFAULT_HEARTBEAT_TIMEOUT_SECONDS).meta({
      description:
        'a worker whose heartbeats stop this long (a frozen process or node, a lost network) is declared hung: the coordinator ends its generation and the operator replaces its pod and restarts the gang, counted (reason Hung). Heartbeats come from a thread of their own, so a long training step does not stop them'
    }),
    collectiveTimeoutSeconds: z.int().min(1).max(86_400).default(DEFAULT_COLLECTIVE_TIMEOUT_SECONDS).meta({
      description:
        'a ring operation (all-reduce, broadcast, barrier) fails when a peer sends nothing for this long, and the generation restarts from the last checkpoint: what catches a rank whose step hangs. Keep it above the slowest step (a first GPU step compiles kernels)'
    }),
    terminationGracePeriodSeconds: z.int().min(1).max(86_400).default(DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS).meta({
      description:
        'terminationGracePeriodSeconds of the worker and coordinator pods: after SIGTERM (a drain, a gang restart, a deletion) a worker finishes its step and rank 0 writes a checkpoint (~140 MB for ResNet18 with Adam) before the kubelet kills it. Raise it for steps longer than about a minute'
    }),
    gangScheduling: GangSchedulingSchema.optional()
  })
).meta({ description: 'lifecycle: retries, deadlines, cleanup, suspension' });

export const TrainingRunSpecSchema = z
  .object({
    model: defaulted(ModelSpecSchema),
    dataset: DatasetSpecSchema,
    workers: WorkersSpecSchema,
    coordinator: CoordinatorSpecSchema,
    hyperparameters: HyperparametersSpecSchema,
    checkpoint: CheckpointSpecSchema,
    output: z
      .object({
        uri: uri('where the trained model (model/, and model-best/ by validation accuracy) and metrics.json go'),
        tensorboard: z
          .boolean()
          .default(true)
          .meta({ description: 'TensorBoard event files under <uri>/tb (tensorboard --logdir <uri>/tb)' })
      })
      .meta({ description: 'results' }),
    storage: StorageSpecSchema.optional(),
    runPolicy: RunPolicySchema,
    managedBy: z
      .string()
      .min(1)
      .max(63)
      .optional()
      .meta({ description: `controller that reconciles this run; absent or "${OPERATOR_MANAGER}" means this operator` })
  })
  .meta({ description: 'what to train, on what, with how many workers, and the run policy' });

export type TrainingRunSpec = z.output<typeof TrainingRunSpecSchema>;
export type TrainingRunSpecInput = z.input<typeof TrainingRunSpecSchema>;
export type EnvVar = z.output<typeof EnvVarSchema>;
export type Toleration = z.output<typeof TolerationSchema>;
export type Quantity = z.output<typeof QuantitySchema>;
