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
  const m = state.first;
  const v = state.second;
  const correction1 = 1 - beta1 ** state.steps;
  const sqrtCorrection2 = Math.sqrt(1 - beta2 ** state.steps);
  const stepSize = lr / correction1;
  const decay = decoupled ? 1 - lr * weightDecay : 1;
  for (let i = 0; i < n; i++) {
    let w = weights[i]!;
    let g = gradient[i]!;
    if (decoupled) w *= decay;
    else g += weightDecay * w;
    m[i] = beta1 * m[i]! + (1 - beta1) * g;
    v[i] = beta2 * v[i]! + (1 - beta2) * g * g;
    weights[i] = w - (stepSize * m[i]!) / (Math.sqrt(v[i]!) / sqrtCorrection2 + epsilon);
  }
}
