import type { TrainingRunSpec } from './spec-schema.js';

/**
 * How a run's ring is laid out over its worker pods, torchrun's `--nproc-per-node` in the spec's words: each of
 * `spec.workers.replicas` pods runs `ranksPerPod` ranks, one process each, and pod p holds ranks
 * p·ranksPerPod … p·ranksPerPod + ranksPerPod − 1, so ring neighbours share a pod (and a node) where they can.
 * One place for the arithmetic that the templates, the plan, the validation rules and the status all use.
 */

type WorkersSpec = Pick<TrainingRunSpec['workers'], 'replicas' | 'gpu' | 'ranksPerPod'>;

/** Ranks per worker pod: as set, else one per GPU, else one. */
export function ranksPerPod(workers: Pick<WorkersSpec, 'gpu' | 'ranksPerPod'>): number {
  return workers.ranksPerPod ?? Math.max(1, workers.gpu.count);
}

/** Ranks of the ring: pods × ranks per pod. */
export function worldSize(workers: WorkersSpec): number {
  return workers.replicas * ranksPerPod(workers);
}

/** The global rank of local rank `local` of worker pod `pod`. */
export function globalRank(workers: Pick<WorkersSpec, 'gpu' | 'ranksPerPod'>, pod: number, local: number): number {
  return pod * ranksPerPod(workers) + local;
}

/**
 * CEL for ranksPerPod with its default, over the workers object at `workers` (e.g. `self`, `oldSelf.spec.workers`):
 * the API server applies no default that depends on another field, so the rules spell it out.
 */
export function ranksPerPodCel(workers: string): string {
  return `(has(${workers}.ranksPerPod) ? ${workers}.ranksPerPod : (${workers}.gpu.count > 0 ? ${workers}.gpu.count : 1))`;
}
