import type { Command } from 'commander';
import { z } from 'zod';
import { EXTENDED_RESOURCE_NAME } from './api/spec-schema.js';
import { DEFAULT_URI_POLICY } from './api/uri-policy.js';
import { DEFAULT_GPU_RESOURCE } from './resources/templates.js';

/** A comma-separated flag as a list, each item checked against `item`. */
function commaList(item: RegExp, what: string) {
  return z
    .string()
    .transform((text) =>
      text
        .split(',')
        .map((each) => each.trim())
        .filter((each) => each !== '')
    )
    .refine((items) => items.every((each) => item.test(each)), `expected ${what}, separated by commas`);
}

const OptionsSchema = z.object({
  namespace: z.string().min(1).optional(),
  leaseNamespace: z.string().min(1).optional(),
  httpPort: z.coerce.number().int().min(0).max(65_535).default(8081),
  identity: z.string().min(1).optional(),
  identityKeyFile: z.string().min(1).optional(),
  concurrency: z.coerce.number().int().min(1).max(64).default(4),
  forceDeleteAfter: z.coerce.number().int().min(0).default(300),
  pollProgress: z.coerce.number().int().min(0).default(15),
  datasetService: z
    .string()
    .regex(/^[^\s:]+:\d{1,5}$/, 'expected host:port, e.g. ringtrain-dataset-service.ringtrain-system:7071')
    .optional(),
  networkPolicies: z
    .enum(['true', 'false'])
    .default('true')
    .transform((value) => value === 'true'),
  kueue: z
    .enum(['true', 'false'])
    .default('false')
    .transform((value) => value === 'true'),
  podGroupScheduler: z
    .string()
    .max(253)
    .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'a scheduler name, e.g. scheduler-plugins-scheduler')
    .optional(),
  operatorPodLabels: z
    .string()
    .regex(
      /^[^=,\s]+=[^=,\s]*(,[^=,\s]+=[^=,\s]*)*$/,
      'expected key=value pairs separated by commas, e.g. app.kubernetes.io/component=operator'
    )
    .transform((pairs) => Object.fromEntries(pairs.split(',').map((pair) => pair.split('=') as [string, string])))
    .optional(),
  allowedUriSchemes: commaList(/^[a-z][a-z0-9+.-]*$/, 'URI schemes such as s3,https')
    .refine((schemes) => !schemes.includes('file'), 'file:// cannot be allowed: a pod would read its node')
    .prefault(DEFAULT_URI_POLICY.schemes.join(',')),
  runEgress: commaList(/^[0-9a-fA-F.:]+\/\d{1,3}:\d{1,5}$/, 'cidr:port pairs such as 10.0.0.0/8:3128')
    .transform((rules) =>
      rules.map((rule) => {
        const at = rule.lastIndexOf(':');
        return { cidr: rule.slice(0, at), port: Number(rule.slice(at + 1)) };
      })
    )
    .prefault(''),
  allowedUriHosts: commaList(/^[A-Za-z0-9.-]+$/, 'host names such as models.example.com').prefault(''),
  defaultGpuResource: z
    .string()
    .max(317)
    .regex(
      EXTENDED_RESOURCE_NAME,
      'expected an extended resource name, e.g. nvidia.com/gpu, amd.com/gpu or gpu.intel.com/i915'
    )
    .default(DEFAULT_GPU_RESOURCE),
  storeEndpoint: z.url().optional(),
  storeCredentialsDir: z.string().min(1).optional(),
  storeCredentialsSeconds: z.coerce.number().int().min(900).max(31_536_000).default(43_200)
});

/**
 * `ringtrain operator`: the container entry point of the operator Deployment. Registered by the CLI's
 * main.ts; the operator itself is imported only when the command runs, so `ringtrain --help` stays fast.
 */
export function registerOperatorCommand(program: Command): void {
  const operator = program
    .command('operator')
    // `render`'s flags are its own: the operator's (before `render`) are not read after it.
    .enablePositionalOptions()
    .description('reconcile TrainingRuns (ringtrain.dev/v1alpha1) in the cluster: pods, services, status, events')
    .option('--namespace <ns>', 'watch one namespace only (default: all namespaces)')
    .option(
      '--lease-namespace <ns>',
      'namespace of the leader-election Lease (default: --namespace, or $POD_NAMESPACE, or default)'
    )
    .option('--http-port <port>', '/healthz, /readyz and /metrics', '8081')
    .option('--identity <id>', 'leader-election identity (default: hostname + random suffix)')
    .option(
      '--identity-key-file <path>',
      "the operator key (32+ random bytes, the chart's Secret <release>-operator-key): every run's token and TLS identity derive from it (default: a key of this process only)"
    )
    .option('--concurrency <n>', 'runs reconciled at once', '4')
    .option(
      '--force-delete-after <seconds>',
      'force-delete pods stuck Terminating this long (their node is gone)',
      '300'
    )
    .option(
      '--poll-progress <seconds>',
      "read a running coordinator's /status this often (0: only on cluster events)",
      '15'
    )
    .option(
      '--dataset-service <host:port>',
      "the cluster's dataset service, which plans every run's epochs (default: each run's workers plan locally)"
    )
    .option(
      '--network-policies <true|false>',
      "give every run a NetworkPolicy: only the run's own pods reach its workers and coordinator",
      'true'
    )
    .option(
      '--kueue <true|false>',
      "Kueue admits runs labelled kueue.x-k8s.io/queue-name, through a Workload per run (needs Kueue's CRDs, v0.17+)",
      'false'
    )
    .option(
      '--pod-group-scheduler <name>',
      'make PodGroups (scheduler-plugins coscheduling) for runs with runPolicy.gangScheduling.podGroup, their pods scheduled by this scheduler unless they name another (default: no PodGroups; such runs fail)'
    )
    .option(
      '--operator-pod-labels <key=value,...>',
      "labels of this operator's pods (in $POD_NAMESPACE), which each run's NetworkPolicy lets read the coordinator's /status (default: any source may)"
    )
    .option(
      '--default-gpu-resource <name>',
      "the device plugin's GPU resource, for runs that set no spec.workers.gpu.resourceName",
      DEFAULT_GPU_RESOURCE
    )
    .option(
      '--allowed-uri-schemes <list>',
      'URI schemes a TrainingRun may name (pretrained weights, dataset, output, checkpoints); never file',
      DEFAULT_URI_POLICY.schemes.join(',')
    )
    .option(
      '--allowed-uri-hosts <list>',
      'hosts an http(s) URI may name, when those schemes are allowed (loopback, link-local and metadata hosts never)',
      ''
    )
    .option(
      '--run-egress <cidr:port,...>',
      "more than each run's NetworkPolicy lets its pods reach (their run, DNS, the object store, the dataset service)",
      ''
    )
    .option(
      '--store-endpoint <url>',
      "the cluster's object store as runs name it in spec.storage.endpoint; with --store-credentials-dir, runs on it that bring no credentialsSecretRef get credentials minted for their own prefixes"
    )
    .option(
      '--store-credentials-dir <dir>',
      "a mounted Secret (files AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) of the store's admin, which mints the runs' credentials (STS AssumeRole)"
    )
    .option('--store-credentials-seconds <n>', "lifetime of a run's minted credentials, renewed at half", '43200')
    .action(async (raw: Record<string, unknown>) => {
      await runOperatorCommand(raw);
    });
  operator
    .command('render')
    .description(
      'print the objects the operator would create for the TrainingRuns in a file (pods, services, policy, secret, config), without a cluster: for review, and for linters such as kube-score'
    )
    .requiredOption('-f, --filename <file>', 'YAML of one or more TrainingRuns ("-" reads stdin)')
    .option('-n, --namespace <ns>', 'namespace of runs that name none', 'default')
    .option('--dataset-service <host:port>', 'as the operator is started with')
    .option('--network-policies <true|false>', 'as the operator is started with', 'true')
    .option(
      '--operator-pod-labels <key=value,...>',
      "as the operator is started with (with --operator-namespace): the pods each run's policy lets read /status"
    )
    .option('--operator-namespace <ns>', "the operator pods' namespace ($POD_NAMESPACE in the cluster)")
    .option('--default-gpu-resource <name>', 'as the operator is started with', DEFAULT_GPU_RESOURCE)
    .option('--allowed-uri-schemes <list>', 'as the operator is started with', DEFAULT_URI_POLICY.schemes.join(','))
    .option('--allowed-uri-hosts <list>', 'as the operator is started with', '')
    .option('--run-egress <cidr:port,...>', 'as the operator is started with', '')
    .option(
      '--store-endpoint <url>',
      'as the operator is started with: runs on that store are shown with the credentials Secret it mints for them'
    )
    .action(async (raw: Record<string, unknown>) => {
      await runRenderCommand(raw);
    });
}

/** A command line the operator's commands refuse: the CLI exits 2 (usage), by this name. */
export class OperatorUsageError extends Error {
  override readonly name = 'OperatorUsageError';
}

function kebabCase(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

const RenderOptionsSchema = OptionsSchema.pick({
  datasetService: true,
  networkPolicies: true,
  operatorPodLabels: true,
  defaultGpuResource: true,
  allowedUriSchemes: true,
  allowedUriHosts: true,
  runEgress: true,
  storeEndpoint: true
}).extend({
  filename: z.string().min(1),
  namespace: z.string().min(1).default('default'),
  operatorNamespace: z.string().min(1).optional()
});

/** `ringtrain operator render -f run.yaml`: the objects to stdout as a YAML stream. */
export async function runRenderCommand(raw: Record<string, unknown>): Promise<void> {
  const parsed = RenderOptionsSchema.safeParse(raw);
  if (!parsed.success)
    throw new OperatorUsageError(
      `operator render: ${parsed.error.issues.map((i) => `--${kebabCase(String(i.path[0]))}: ${i.message}`).join('; ')}`
    );
  const options = parsed.data;
  if (options.operatorPodLabels && !options.operatorNamespace)
    throw new OperatorUsageError(
      'operator render: --operator-pod-labels needs --operator-namespace, where those pods run'
    );
  const { readFileSync } = await import('node:fs');
  const { renderTrainingRuns, renderYaml } = await import('./render.js');
  const text = readFileSync(options.filename === '-' ? 0 : options.filename, 'utf8');
  const objects = renderTrainingRuns(text, {
    namespace: options.namespace,
    ...(options.storeEndpoint ? { store: { endpoint: options.storeEndpoint } } : {}),
    cluster: {
      ...(options.datasetService ? { datasetService: options.datasetService } : {}),
      defaultGpuResource: options.defaultGpuResource,
      networkPolicies: options.networkPolicies,
      uriPolicy: { schemes: options.allowedUriSchemes, hosts: options.allowedUriHosts },
      runEgress: options.runEgress,
      ...(options.operatorPodLabels && options.operatorNamespace
        ? { operatorPods: { namespace: options.operatorNamespace, labels: options.operatorPodLabels } }
        : {})
    }
  });
  if (objects.length === 0)
    throw new OperatorUsageError(`operator render: ${options.filename} holds no TrainingRun (kind: TrainingRun)`);
  process.stdout.write(renderYaml(objects));
}

/** Runs until SIGTERM/SIGINT (then stops gracefully and resolves) or until leadership is lost (rejects). */
export async function runOperatorCommand(raw: Record<string, unknown>): Promise<void> {
  const parsed = OptionsSchema.safeParse(raw);
  if (!parsed.success)
    throw new Error(`operator: ${parsed.error.issues.map((i) => `--${String(i.path[0])}: ${i.message}`).join('; ')}`);
  const options = parsed.data;
  const podNamespace = process.env.POD_NAMESPACE;
  // The policy selects the operator's pods by namespace and labels: labels without the namespace select nothing.
  if (options.operatorPodLabels && !podNamespace)
    throw new Error(
      'operator: --operator-pod-labels needs $POD_NAMESPACE, the namespace of the operator pods (the downward API sets it)'
    );
  if ((options.storeEndpoint === undefined) !== (options.storeCredentialsDir === undefined))
    throw new Error('operator: --store-endpoint and --store-credentials-dir go together (set both, or neither)');
  const { startOperator } = await import('./controller/operator.js');
  const { RunIdentityIssuer } = await import('./resources/run-identity.js');
  const runIdentity = options.identityKeyFile ? RunIdentityIssuer.fromFile(options.identityKeyFile) : undefined;
  let lost: (error: Error) => void = () => undefined;
  const lostLeadership = new Promise<never>((_, reject) => (lost = reject));
  const operator = await startOperator({
    ...(options.namespace ? { namespace: options.namespace } : {}),
    leaseNamespace: options.leaseNamespace ?? options.namespace ?? process.env.POD_NAMESPACE ?? 'default',
    httpPort: options.httpPort,
    ...(options.identity ? { identity: options.identity } : {}),
    ...(runIdentity ? { runIdentity } : {}),
    concurrency: options.concurrency,
    forceDeleteAfterSeconds: options.forceDeleteAfter,
    pollProgressSeconds: options.pollProgress,
    ...(options.datasetService ? { datasetService: options.datasetService } : {}),
    defaultGpuResource: options.defaultGpuResource,
    networkPolicies: options.networkPolicies,
    kueue: options.kueue,
    ...(options.podGroupScheduler ? { podGroupScheduler: options.podGroupScheduler } : {}),
    uriPolicy: { schemes: options.allowedUriSchemes, hosts: options.allowedUriHosts },
    runEgress: options.runEgress,
    ...(options.storeEndpoint && options.storeCredentialsDir
      ? {
          storeAdmin: {
            endpoint: options.storeEndpoint,
            credentialsDir: options.storeCredentialsDir,
            durationSeconds: options.storeCredentialsSeconds
          }
        }
      : {}),
    ...(options.operatorPodLabels && podNamespace
      ? { operatorPods: { namespace: podNamespace, labels: options.operatorPodLabels } }
      : {}),
    onLostLeadership: (reason) => lost(reason)
  });
  const signalled = new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  try {
    await Promise.race([signalled, lostLeadership]);
  } finally {
    await operator.stop();
  }
}
