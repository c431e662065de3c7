// Original file: proto/coordinator.proto


export interface RankStepTime {
  'rank'?: (number);
  /**
   * The compute backend the rank runs on (tensorflow, wasm, cpu).
   */
  'backend'?: (string);
  'dataWaitSeconds'?: (number | string);
  'computeSeconds'?: (number | string);
  /**
   * The gradient all-reduce alone (the report's allreduce_seconds also holds the step's metric all-gather).
   */
  'allreduceSeconds'?: (number | string);
  /**
   * The optimizer step runs after the ranks exchange their figures, so this is the rank's previous step's.
   */
  'optimizerSeconds'?: (number | string);
}

export interface RankStepTime__Output {
  'rank': (number);
  /**
   * The compute backend the rank runs on (tensorflow, wasm, cpu).
   */
  'backend': (string);
  'dataWaitSeconds': (number);
  'computeSeconds': (number);
  /**
   * The gradient all-reduce alone (the report's allreduce_seconds also holds the step's metric all-gather).
   */
  'allreduceSeconds': (number);
  /**
   * The optimizer step runs after the ranks exchange their figures, so this is the rank's previous step's.
   */
  'optimizerSeconds': (number);
}
