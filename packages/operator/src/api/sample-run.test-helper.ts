import type { TrainingRunInput } from './training-run.js';

/** A minimal valid TrainingRun as a user would write it; tests override one field at a time. */
export function sampleRunInput(
  overrides: { name?: string; spec?: Partial<TrainingRunInput['spec']> } = {}
): TrainingRunInput {
  return {
    apiVersion: 'ringtrain.dev/v1alpha1',
    kind: 'TrainingRun',
    metadata: { name: overrides.name ?? 'flowers', namespace: 'default', uid: 'uid-flowers', generation: 1 },
    spec: {
      dataset: { uri: 's3://datasets/flowers' },
      workers: { replicas: 2, image: 'ringtrain:test' },
      output: { uri: 's3://runs/flowers' },
      ...overrides.spec
    }
  };
}
