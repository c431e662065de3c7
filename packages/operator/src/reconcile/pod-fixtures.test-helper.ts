import type { V1Pod, V1PodCondition, V1ContainerStateTerminated } from '@kubernetes/client-node';

/** An observed pod as the API server would return it, with only the fields reconcile reads. */
export function observedPod(
  name: string,
  labels: Record<string, string>,
  state: {
    phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
    ready?: boolean;
    terminated?: Partial<V1ContainerStateTerminated>;
    reason?: string;
    conditions?: readonly V1PodCondition[];
    deletionTimestamp?: Date;
  } = {}
): V1Pod {
  const conditions: V1PodCondition[] = [...(state.conditions ?? [])];
  if (state.ready) conditions.push({ type: 'Ready', status: 'True' });
  return {
    metadata: { name, labels, ...(state.deletionTimestamp ? { deletionTimestamp: state.deletionTimestamp } : {}) },
    status: {
      phase: state.phase ?? 'Pending',
      ...(state.reason ? { reason: state.reason } : {}),
      conditions,
      ...(state.terminated
        ? {
            containerStatuses: [
              {
                name: 'worker',
                image: 'x',
                imageID: '',
                ready: false,
                restartCount: 0,
                state: { terminated: { exitCode: 1, ...state.terminated } }
              }
            ]
          }
        : {})
    }
  } as V1Pod;
}
