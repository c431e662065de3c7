import { STRIPE_PORT_STEP } from '@ringtrain/proto';
import { API_VERSION, KIND } from '../api/group-version.js';
import type { TrainingRun } from '../api/training-run.js';

/** Ports the pod templates expose; the coordinator and worker commands are started with these. */
export const COORDINATOR_GRPC_PORT = 50051;
export const COORDINATOR_HTTP_PORT = 8080;
export const WORKER_COLLECTIVE_PORT = 50052;

/**
 * Container port names: the per-run NetworkPolicy opens ports by these names, so a rule reaches only the pods
 * that declare the port (the coordinator's grpc and http, a worker's collective) in one policy for the run.
 */
export const PORT_NAMES = { grpc: 'grpc', http: 'http', collective: 'collective' } as const;

/**
 * The collective port's name of a worker pod's local rank `local`: `collective` for the first (as with one rank
 * per pod), `collective-<local>` for the others (a port name has at most 15 characters: enough up to 16 ranks).
 */
export function collectivePortName(local: number): string {
  return local === 0 ? PORT_NAMES.collective : `${PORT_NAMES.collective}-${local}`;
}

/**
 * The named ports of a worker pod's collective: per local rank, its ring port (collectivePortName) and, with
 * hyperparameters.collectiveStripes K > 1, one per further stripe (`stripe-<local>-<k>`, at most 11
 * characters), on the ring port + k · STRIPE_PORT_STEP, where `ringtrain worker` listens for it.
 */
export function collectivePorts(ranksPerPod: number, stripes: number): { name: string; port: number }[] {
  const ports: { name: string; port: number }[] = [];
  for (let local = 0; local < ranksPerPod; local += 1) {
    ports.push({ name: collectivePortName(local), port: WORKER_COLLECTIVE_PORT + local });
    for (let stripe = 1; stripe < stripes; stripe += 1)
      ports.push({
        name: `stripe-${local}-${stripe}`,
        port: WORKER_COLLECTIVE_PORT + local + stripe * STRIPE_PORT_STEP
      });
  }
  return ports;
}

export const LABEL_RUN = 'ringtrain.dev/run';
export const LABEL_ROLE = 'ringtrain.dev/role';
export const LABEL_RANK = 'ringtrain.dev/rank';
export const LABEL_ATTEMPT = 'ringtrain.dev/attempt';
/**
 * The run's uid on each of its pods: what its NetworkPolicy admits, so a pod that copies another run's name
 * label (same namespace, another run) is not let in; a uid is the API server's and names one object only.
 */
export const LABEL_RUN_UID = 'ringtrain.dev/run-uid';
export const TOKEN_KEY = 'token';
export const RUN_CONFIG_KEY = 'run.json';
/** Where the coordinator finds its run configuration (`ringtrain coordinator --config`). */
export const RUN_CONFIG_PATH = `/etc/ringtrain/${RUN_CONFIG_KEY}`;

export type Role = 'coordinator' | 'worker';

/**
 * Every child's name derives from the run's name, so reconcile finds its objects by name (idempotent
 * creates: AlreadyExists means done) and people find them with kubectl without reading labels.
 */
export const names = {
  coordinatorPod: (run: string) => `${run}-coordinator`,
  coordinatorService: (run: string) => `${run}-coordinator`,
  workerPod: (run: string, rank: number) => `${run}-worker-${rank}`,
  /** Headless: gives each worker pod the DNS name worker-<rank>.<run>-workers. */
  workersService: (run: string) => `${run}-workers`,
  workerHostname: (rank: number) => `worker-${rank}`,
  secret: (run: string) => `${run}-token`,
  configMap: (run: string) => `${run}-config`,
  networkPolicy: (run: string) => `${run}-network-policy`
};

export function selectorLabels(run: TrainingRun, role?: Role): Record<string, string> {
  return { [LABEL_RUN]: run.metadata.name, ...(role ? { [LABEL_ROLE]: role } : {}) };
}

export function commonLabels(run: TrainingRun): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'ringtrain',
    'app.kubernetes.io/instance': run.metadata.name,
    'app.kubernetes.io/managed-by': 'ringtrain-operator',
    [LABEL_RUN]: run.metadata.name,
    ...(run.metadata.uid ? { [LABEL_RUN_UID]: run.metadata.uid } : {})
  };
}

/** Exactly this run's pods, by name and uid: the per-run NetworkPolicy's selector and its peers. */
export function runPodLabels(run: TrainingRun): Record<string, string> {
  return { [LABEL_RUN]: run.metadata.name, ...(run.metadata.uid ? { [LABEL_RUN_UID]: run.metadata.uid } : {}) };
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller: boolean;
  blockOwnerDeletion: boolean;
}

/**
 * The controller reference that makes the garbage collector delete children with the run. A run read from
 * the API server always has a uid; one without is a programming error, so say so instead of writing an
 * owner reference the API server would refuse.
 */
export function ownerReference(run: TrainingRun): OwnerReference {
  const uid = run.metadata.uid;
  if (!uid)
    throw new Error(
      `TrainingRun ${run.metadata.name} has no metadata.uid: owner references need the object as stored by the API server`
    );
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: run.metadata.name,
    uid,
    controller: true,
    blockOwnerDeletion: true
  };
}
