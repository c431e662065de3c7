import type { OptimizerConfig } from './training-config.js';

/**
 * The optimizer update in plain JavaScript over Float32Arrays. Every rank receives the same averaged
 * gradient and runs this same sequential arithmetic (doubles rounded to float32 on store), so weights and
 * optimizer state stay bit-identical across ranks and backends — a GPU kernel's reduction order cannot
 * make them drift. The formulas are torch.optim's (SGD with dampening 0; Adam with L2 or AdamW decay).
 */
export interface ParameterState {
  /** SGD momentum buffer, or Adam's first moment; empty until the first step (as torch's lazy state). */
  first: Float32Array;
  /** Adam's second moment. */
  second: Float32Array;
  /** Steps this parameter has taken (Adam's bias correction; torch keeps it per parameter). */
  steps: number;
}

export function emptyParameterState(): ParameterState {
  return { first: new Float32Array(0), second: new Float32Array(0), steps: 0 };
}

/** Updates `weights` in place with `gradient` (same length) at learning rate `lr`. */
export function optimizerStep(
  config: OptimizerConfig,
  lr: number,
  weights: Float32Array,
  gradient: Float32Array,
  state: ParameterState,
): void {
  const n = weights.length;
  if (gradient.length !== n) throw new Error(`gradient has ${gradient.length} values for ${n} weights`);
  state.steps += 1;
  if (config.kind === 'sgd') {
    const { momentum, nesterov, weightDecay } = config;
    if (momentum > 0 && state.first.length === 0) state.first = new Float32Array(n);
    const buffer = state.first;
    const firstStep = state.steps === 1;
    for (let i = 0; i < n; i++) {
      let d = gradient[i]! + weightDecay * weights[i]!;
      if (momentum > 0) {
        // torch initialises the buffer with the first gradient itself, not with momentum·0 + gradient·1.
        const b = firstStep ? d : momentum * buffer[i]! + d;
        buffer[i] = b;
        d = nesterov ? d + momentum * Math.fround(b) : Math.fround(b);
      }
      weights[i] = weights[i]! - lr * d;
    }
    return;
  }
  const { beta1, beta2, epsilon, weightDecay, decoupled } = config;
  if (state.first.length === 0) {
    state.first = new Float32Array(n);
    state.second = new Float32Array(n);
  }
  adamLoop(
    weights,
    gradient,
    state.first,
    state.second,
    beta1,
    beta2,
    epsilon,
    lr / (1 - beta1 ** state.steps),
    Math.sqrt(1 - beta2 ** state.steps),
    decoupled ? 0 : weightDecay,
    decoupled ? 1 - lr * weightDecay : 1,
  );
}

/**
 * Adam's element loop, kept monomorphic and branch-free (AdamW's decay and Adam's L2 term are both
 * expressed as constants) so V8 optimises it: it runs over all 11.7 M parameters every step.
 */
function adamLoop(
  w: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  beta1: number,
  beta2: number,
  epsilon: number,
  stepSize: number,
  sqrtCorrection2: number,
  l2: number,
  decay: number,
): void {
  const oneMinusBeta1 = 1 - beta1;
  const oneMinusBeta2 = 1 - beta2;
  const n = w.length;
  for (let i = 0; i < n; i++) {
    const wi = w[i]! * decay;
    const gi = g[i]! + l2 * w[i]!;
    const mi = beta1 * m[i]! + oneMinusBeta1 * gi;
    const vi = beta2 * v[i]! + oneMinusBeta2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    // torch computes with the float32-stored moments; read them back to use the same values.
    w[i] = wi - (stepSize * m[i]!) / (Math.sqrt(v[i]!) / sqrtCorrection2 + epsilon);
  }
}
