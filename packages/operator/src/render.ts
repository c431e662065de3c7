import { dumpYaml } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { InvalidTrainingRunError, parseTrainingRun } from './api/validate.js';
import type { TrainingRun } from './api/training-run.js';
import { planReconcile, type ChildObject, type Observed } from './reconcile/plan.js';
import {
  buildStorageCredentialsSecret,
  mintsCredentials,
  withMintedCredentials,
  type ManagedStore
} from './resources/storage-credentials.js';
import type { ClusterSettings } from './resources/templates.js';

/**
 * What stands for the per-run token and TLS identity the operator derives at creation: a rendering never holds
 * real ones.
 */
export const RENDERED_TOKEN = 'generated-by-the-operator-at-creation';

const NOTHING_OBSERVED: Observed = {
  pods: [],
  serviceNames: [],
  secretExists: false,
  configMapExists: false,
  networkPolicyExists: false
};

export interface RenderOptions {
  /** The namespace of runs whose metadata names none (kubectl's current namespace, in a cluster). */
  readonly namespace?: string;
  readonly cluster?: ClusterSettings;
  /**
   * The cluster's store (the operator's --store-endpoint): runs on it are shown with the storage credentials
   * Secret the operator would mint for them (placeholder keys), mounted by their pods.
   */
  readonly store?: ManagedStore;
}

/**
 * The objects the operator creates for each TrainingRun in `manifests` (a YAML stream; other kinds are skipped),
 * exactly as its first reconcile would (a suspended run as it will be once admitted): the same pure planner, fed
 * a cluster where nothing exists yet. For review
 * before `kubectl apply`, and for linting what we ship (kube-score) without a cluster. A run that the API server
 * would refuse is refused here with the same messages.
 */
export function renderTrainingRuns(manifests: string, options: RenderOptions = {}): ChildObject[] {
  const objects: ChildObject[] = [];
  for (const document of parseAllDocuments(manifests)) {
    if (document.errors.length > 0) throw new Error(`not YAML: ${document.errors[0]!.message}`);
    const input = document.toJS() as { kind?: unknown; metadata?: Record<string, unknown> } | null;
    if (input === null || input.kind !== 'TrainingRun') continue;
    const run: TrainingRun = parseTrainingRun({
      ...input,
      metadata: {
        namespace: options.namespace ?? 'default',
        ...input.metadata,
        // The API server's: the owner references of every child name the run's uid.
        uid: input.metadata?.uid ?? '00000000-0000-0000-0000-000000000000',
        generation: 1
      }
    });
    // A suspended run (one waiting for a queue's admission) is shown as it will be once admitted.
    run.spec.runPolicy.suspend = false;
    const plan = planReconcile(withMintedCredentials(run, options.store), NOTHING_OBSERVED, new Date(), {
      token: RENDERED_TOKEN,
      tls: { ca: RENDERED_TOKEN, certificate: RENDERED_TOKEN, privateKey: RENDERED_TOKEN },
      ...(options.cluster ? { cluster: options.cluster } : {})
    });
    // Refused before anything is created (a URI the cluster does not allow): what the run's status would say.
    if (plan.status?.phase === 'Failed')
      throw new InvalidTrainingRunError(
        `TrainingRun ${run.metadata.name} would fail at once: ${plan.status.conditions?.find((c) => c.type === 'Failed')?.message ?? 'refused'}`
      );
    if (mintsCredentials(run, options.store))
      objects.push(
        buildStorageCredentialsSecret(run, {
          accessKey: RENDERED_TOKEN,
          secretKey: RENDERED_TOKEN,
          sessionToken: RENDERED_TOKEN,
          expiresAt: new Date(0)
        })
      );
    for (const action of plan.actions) if (action.kind === 'create') objects.push(action.object);
  }
  return objects;
}

/** The objects as one YAML stream, `---` between them, in the API server's field names (client-node's serializer). */
export function renderYaml(objects: readonly ChildObject[]): string {
  return objects.map((object) => dumpYaml(object, { lineWidth: -1 })).join('---\n');
}
