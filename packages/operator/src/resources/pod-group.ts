import type { KubernetesObject, V1Pod } from '@kubernetes/client-node';
import type { TrainingRun } from '../api/training-run.js';
import { commonLabels, ownerReference } from './names.js';

/**
 * Gang scheduling without a queue (spec.runPolicy.gangScheduling.podGroup): a PodGroup of the coscheduling plugin
 * (kubernetes-sigs/scheduler-plugins, scheduling.x-k8s.io/v1alpha1) per run, and every pod of the run labelled with
 * it and scheduled by the scheduler that runs the plugin, which places minMember of them together or none.
 */
export const POD_GROUP_GROUP = 'scheduling.x-k8s.io';
export const POD_GROUP_VERSION = 'v1alpha1';
export const POD_GROUP_API_VERSION = `${POD_GROUP_GROUP}/${POD_GROUP_VERSION}`;
export const POD_GROUPS = 'podgroups';
/** The coscheduling plugin's pod label naming the pod's PodGroup. */
export const POD_GROUP_LABEL = 'scheduling.x-k8s.io/pod-group';
/** The scheduler name of scheduler-plugins' as-a-second-scheduler chart, the operator's default. */
export const DEFAULT_POD_GROUP_SCHEDULER = 'scheduler-plugins-scheduler';

/** A PodGroup, as the operator creates it. */
export type PodGroup = KubernetesObject & { readonly kind: 'PodGroup' };

/** Whether the run asks for a PodGroup. */
export const wantsPodGroup = (run: TrainingRun): boolean => run.spec.runPolicy.gangScheduling?.podGroup !== undefined;

/** The run's PodGroup has the run's name (another kind, so no clash with its other children). */
export const podGroupName = (run: TrainingRun): string => run.metadata.name;

/** minMember is the whole gang: the coordinator and every worker pod (the ring needs them all). */
export function buildPodGroup(run: TrainingRun): PodGroup {
  const timeout = run.spec.runPolicy.gangScheduling?.podGroup?.scheduleTimeoutSeconds;
  return {
    apiVersion: POD_GROUP_API_VERSION,
    kind: 'PodGroup',
    metadata: {
      name: podGroupName(run),
      namespace: run.metadata.namespace ?? 'default',
      labels: commonLabels(run),
      ownerReferences: [ownerReference(run)]
    },
    spec: {
      minMember: run.spec.workers.replicas + 1,
      ...(timeout !== undefined ? { scheduleTimeoutSeconds: timeout } : {})
    }
  } as PodGroup;
}

/** The pod as a member of the run's PodGroup: its label, and the coscheduling scheduler over the role's own. */
export function withPodGroup(pod: V1Pod, run: TrainingRun, clusterScheduler: string | undefined): V1Pod {
  const schedulerName = run.spec.runPolicy.gangScheduling?.podGroup?.schedulerName ?? clusterScheduler;
  return {
    ...pod,
    metadata: { ...pod.metadata, labels: { ...pod.metadata?.labels, [POD_GROUP_LABEL]: podGroupName(run) } },
    ...(pod.spec ? { spec: { ...pod.spec, ...(schedulerName ? { schedulerName } : {}) } } : {})
  };
}
