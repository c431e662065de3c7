import type { Condition } from '../api/status-schema.js';

export const CONDITION_TYPES = [
  'Running',
  'Restarting',
  'Suspended',
  'Admitted',
  'Stalled',
  'Unschedulable',
  'Succeeded',
  'Failed'
] as const;
export type ConditionType = (typeof CONDITION_TYPES)[number];

/**
 * Sets one condition in the metav1.Condition way (apimachinery's meta.SetStatusCondition):
 * lastTransitionTime moves only when status flips, so it says how long the condition has held.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  update: {
    type: ConditionType;
    status: Condition['status'];
    reason: string;
    message: string;
    observedGeneration?: number;
  },
  now: string
): Condition[] {
  const list = [...(conditions ?? [])];
  const index = list.findIndex((c) => c.type === update.type);
  const previous = index >= 0 ? list[index] : undefined;
  const next: Condition = {
    type: update.type,
    status: update.status,
    reason: update.reason,
    message: update.message,
    lastTransitionTime: previous && previous.status === update.status ? previous.lastTransitionTime : now,
    ...(update.observedGeneration !== undefined ? { observedGeneration: update.observedGeneration } : {})
  };
  if (index >= 0) list[index] = next;
  else list.push(next);
  return list;
}

export function conditionIs(conditions: readonly Condition[] | undefined, type: ConditionType): boolean {
  return conditions?.some((c) => c.type === type && c.status === 'True') ?? false;
}
