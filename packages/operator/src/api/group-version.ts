/** The CRD's coordinates: a stable contract (ARCHITECTURE.md), changed only with a new version. */
export const GROUP = 'ringtrain.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'TrainingRun';
export const PLURAL = 'trainingruns';
export const SINGULAR = 'trainingrun';
export const SHORT_NAMES = ['tr'] as const;
export const CRD_NAME = `${PLURAL}.${GROUP}`;

/** `spec.managedBy` value that means "this operator"; any other value is left to that controller (Kueue's contract). */
export const OPERATOR_MANAGER = 'ringtrain.dev/operator';

/**
 * Longest run name: pod and service names derive from it (`<name>-worker-<rank>`, `<name>-workers`) and must
 * stay DNS-1035 labels of at most 63 characters, with room for a 5-digit rank.
 */
export const MAX_RUN_NAME_LENGTH = 42;
