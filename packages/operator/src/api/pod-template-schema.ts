import { z } from 'zod';

/**
 * The parts of a pod template a PyTorchJob user sets, as named fields of spec.workers and spec.coordinator, each
 * a bounded schema of the Kubernetes type (not a partial PodTemplateSpec merged over ours, nor
 * x-kubernetes-preserve-unknown-fields): the API server checks every value at admission, with the field named,
 * instead of the pod creation failing later in the reconcile; the CRD stays small (a whole PodSpec schema is
 * ~500 KB, and its CEL cost unbounded); and what the operator owns (ports, token, security context, its volumes
 * and labels) has no field to override it with. Kubernetes types are cut down to what users use: volumes from a
 * PVC, ConfigMap, Secret or emptyDir (no hostPath: a run's pods never touch the node's disk); node and pod
 * affinity in full.
 */

const dnsSubdomain = (what: string) =>
  z
    .string()
    .min(1)
    .max(253)
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, `${what}: a DNS subdomain name`)
    .meta({ description: what });

const dnsLabel = (what: string) =>
  z
    .string()
    .min(1)
    .max(63)
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, `${what}: a DNS label (lowercase letters, digits, '-')`)
    .meta({ description: what });

const labelKey = z.string().min(1).max(317);
const labelValue = z.string().max(63);
const values = z.array(z.string().max(317)).max(64).optional();

const LabelSelectorSchema = z.object({
  matchLabels: z.record(labelKey, labelValue).optional().meta({ maxProperties: 32 }),
  matchExpressions: z
    .array(z.object({ key: labelKey, operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']), values }))
    .max(16)
    .optional()
});

const NodeSelectorRequirementSchema = z.object({
  key: labelKey,
  operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt']),
  values
});

const NodeSelectorTermSchema = z.object({
  matchExpressions: z.array(NodeSelectorRequirementSchema).max(16).optional(),
  matchFields: z.array(NodeSelectorRequirementSchema).max(16).optional()
});

const PodAffinityTermSchema = z.object({
  labelSelector: LabelSelectorSchema.optional(),
  namespaceSelector: LabelSelectorSchema.optional(),
  namespaces: z.array(z.string().max(63)).max(16).optional(),
  topologyKey: labelKey,
  matchLabelKeys: z.array(labelKey).max(16).optional(),
  mismatchLabelKeys: z.array(labelKey).max(16).optional()
});

const weight = z.int().min(1).max(100);

const podAffinity = z.object({
  requiredDuringSchedulingIgnoredDuringExecution: z.array(PodAffinityTermSchema).max(16).optional(),
  preferredDuringSchedulingIgnoredDuringExecution: z
    .array(z.object({ weight, podAffinityTerm: PodAffinityTermSchema }))
    .max(16)
    .optional()
});

export const AffinitySchema = z
  .object({
    nodeAffinity: z
      .object({
        requiredDuringSchedulingIgnoredDuringExecution: z
          .object({ nodeSelectorTerms: z.array(NodeSelectorTermSchema).min(1).max(16) })
          .optional(),
        preferredDuringSchedulingIgnoredDuringExecution: z
          .array(z.object({ weight, preference: NodeSelectorTermSchema }))
          .max(16)
          .optional()
      })
      .optional(),
    podAffinity: podAffinity.optional(),
    podAntiAffinity: podAffinity.optional()
  })
  .meta({ description: "the pod's affinity (Kubernetes Affinity: nodeAffinity, podAffinity, podAntiAffinity)" });

export const TopologySpreadConstraintSchema = z.object({
  maxSkew: z.int().min(1).max(10_000),
  topologyKey: labelKey,
  whenUnsatisfiable: z.enum(['DoNotSchedule', 'ScheduleAnyway']),
  labelSelector: LabelSelectorSchema.optional(),
  minDomains: z.int().min(1).max(10_000).optional(),
  nodeAffinityPolicy: z.enum(['Honor', 'Ignore']).optional(),
  nodeTaintsPolicy: z.enum(['Honor', 'Ignore']).optional(),
  matchLabelKeys: z.array(labelKey).max(16).optional()
});

const keyToPath = z
  .array(
    z.object({
      key: z.string().min(1).max(253),
      path: z.string().min(1).max(1024),
      mode: z.int().min(0).max(511).optional()
    })
  )
  .max(64)
  .optional();

/** Volume names and mount paths the operator's own volumes use: a run's volumes may not take them. */
export const RESERVED_VOLUME_NAMES: readonly string[] = [
  'tmp',
  'cache',
  'run-config',
  's3-credentials',
  'run-identity'
];
export const RESERVED_MOUNT_PATHS: readonly string[] = [
  '/',
  '/tmp',
  '/cache',
  '/etc/ringtrain',
  '/var/run/secrets/ringtrain'
];

export const VolumeSchema = z.object({
  name: dnsLabel('volume name, referred to by volumeMounts'),
  persistentVolumeClaim: z
    .object({
      claimName: dnsSubdomain('PersistentVolumeClaim in the run’s namespace'),
      readOnly: z.boolean().optional()
    })
    .optional(),
  configMap: z
    .object({ name: dnsSubdomain('ConfigMap'), items: keyToPath, optional: z.boolean().optional() })
    .optional(),
  secret: z
    .object({ secretName: dnsSubdomain('Secret'), items: keyToPath, optional: z.boolean().optional() })
    .optional(),
  emptyDir: z
    .object({
      medium: z.enum(['', 'Memory']).optional(),
      sizeLimit: z
        .string()
        .max(64)
        .regex(/^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/, 'a size such as 1Gi')
        .optional()
    })
    .optional()
});

export const VolumeMountSchema = z.object({
  name: dnsLabel('one of this role’s volumes'),
  mountPath: z
    .string()
    .min(2)
    .max(512)
    .regex(/^\/[^:]*$/, 'an absolute path without ":"')
    .meta({ description: 'where the volume appears in the container' }),
  subPath: z
    .string()
    .max(512)
    .regex(/^([^/].*)?$/, 'a path relative to the volume')
    .optional(),
  readOnly: z.boolean().optional()
});

const refName = z.object({ name: dnsSubdomain('object name'), optional: z.boolean().optional() });

export const EnvFromSourceSchema = z.object({
  prefix: z
    .string()
    .max(253)
    .regex(/^[-._a-zA-Z]?[-._a-zA-Z0-9]*$/, 'an environment variable name prefix')
    .optional(),
  configMapRef: refName.optional(),
  secretRef: refName.optional()
});

/** Label and annotation keys the operator sets on a run's pods (selectors, the NetworkPolicy, kube-score). */
export const RESERVED_LABEL_PREFIX = 'ringtrain.dev/';
export const RESERVED_LABEL_KEYS: readonly string[] = [
  'app.kubernetes.io/name',
  'app.kubernetes.io/instance',
  'app.kubernetes.io/managed-by'
];
export const RESERVED_ANNOTATION_KEYS: readonly string[] = ['kube-score/ignore'];

/** The fields every role's pod takes from the spec, beyond image, resources, nodeSelector, tolerations and env. */
export const podTemplateFields = (role: string) => ({
  affinity: AffinitySchema.optional(),
  topologySpreadConstraints: z
    .array(TopologySpreadConstraintSchema)
    .max(8)
    .optional()
    .meta({ description: `how ${role} spread over zones or nodes (Kubernetes TopologySpreadConstraint)` }),
  priorityClassName: dnsSubdomain(`PriorityClass of ${role}`).optional(),
  schedulerName: dnsSubdomain(`scheduler of ${role} (default: the cluster's default-scheduler)`).optional(),
  serviceAccountName: dnsSubdomain(
    `ServiceAccount of ${role}; its API token is still not mounted (automountServiceAccountToken: false), a workload identity webhook's projected token is`
  ).optional(),
  imagePullSecrets: z
    .array(z.object({ name: dnsSubdomain('a docker-registry Secret') }))
    .max(16)
    .optional()
    .meta({ description: `Secrets to pull the image of ${role} with` }),
  volumes: z
    .array(VolumeSchema)
    .max(32)
    .refine((volumes) => new Set(volumes.map((v) => v.name)).size === volumes.length, 'volume names must be unique')
    .optional()
    .meta({
      // The API server refuses two volumes of one name (a list keyed by name), as the zod refinement does.
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['name'],
      description: `extra volumes of ${role}, each exactly one of persistentVolumeClaim, configMap, secret or emptyDir; the names ${RESERVED_VOLUME_NAMES.join(', ')} are the operator's`
    }),
  volumeMounts: z
    .array(VolumeMountSchema)
    .max(32)
    .optional()
    .meta({
      description: `where volumes appear in the container of ${role}; each names one of volumes, at a path other than ${RESERVED_MOUNT_PATHS.join(', ')} (or beneath them)`
    }),
  labels: z
    .record(labelKey, labelValue)
    .optional()
    .meta({
      maxProperties: 32,
      description: `labels added to ${role}; ${RESERVED_LABEL_PREFIX}* and ${RESERVED_LABEL_KEYS.join(', ')} are the operator's`
    }),
  annotations: z
    .record(labelKey, z.string().max(4096))
    .optional()
    .meta({
      maxProperties: 32,
      description: `annotations added to ${role}; ${RESERVED_LABEL_PREFIX}* and ${RESERVED_ANNOTATION_KEYS.join(', ')} are the operator's`
    }),
  envFrom: z
    .array(EnvFromSourceSchema)
    .max(16)
    .optional()
    .meta({
      description: `ConfigMaps and Secrets whose keys become environment variables of ${role}; the operator's variables (env) win over them`
    })
});

export type Affinity = z.output<typeof AffinitySchema>;
export type Volume = z.output<typeof VolumeSchema>;
export type VolumeMount = z.output<typeof VolumeMountSchema>;
