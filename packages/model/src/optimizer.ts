import * as tf from '@tensorflow/tfjs-core';
import type { OptimizerConfig } from './training-config.js';
import { assignFlat } from './flat-parameters.js';
import type { FlatParameter } from './flat-parameters.js';
import { createTensorflowSegment } from './tensorflow-optimizer.js';

/** A parameter's optimizer state as checkpoints store it (Ringtrain layout, flattened). */
export interface ParameterState {
  /** SGD momentum buffer, or Adam's first moment; absent until the parameter's first step (torch's lazy state). */
  readonly first?: Float32Array;
  /** Adam's second moment. */
  readonly second?: Float32Array;
  /** Steps this parameter has taken (Adam's bias correction; torch keeps it per parameter). */
  readonly steps: number;
}

/** The state of a run of parameters that have taken the same number of steps, concatenated. */
export interface OptimizerSegment {
  /**
   * Updates the parameters' variables with their flat `gradient` times `scale` (gradient clipping); `steps`
   * counts this step.
   */
  step(lr: number, steps: number, gradient: Float32Array, scale: number): void;
  /** The flat moments, read from the device. */
  read(): { readonly first?: Float32Array; readonly second?: Float32Array };
  dispose(): void;
}

export interface SegmentInit {
  readonly config: OptimizerConfig;
  readonly parameters: readonly FlatParameter[];
  readonly length: number;
  /** Initial flat moments (zeros where a parameter has none yet). */
  readonly first?: Float32Array;
  readonly second?: Float32Array;
}

/**
 * torch.optim's SGD (dampening 0) and Adam (L2 or AdamW decay) over flat buffers of the trainable parameters.
 * On the `tensorflow` backend weights and moments stay on the device and one fused TensorFlow kernel steps all
 * of them (PyTorch's `foreach`/fused idea); on wasm and cpu, whose element-wise kernels are slower than a
 * JavaScript loop, a loop over Float32Arrays does. Parameters are grouped into segments of equal step counts,
 * since Adam's bias correction is per parameter (one segment, except after a frozen backbone is unfrozen).
 * Either way every rank runs the same sequential arithmetic on the same averaged gradient, so ranks stay
 * bit-identical.
 */
export class DeviceOptimizer {
  private segments: Array<{
    readonly names: readonly string[];
    readonly lengths: readonly number[];
    readonly segment: OptimizerSegment;
  }> = [];
  private layout: readonly string[] = [];
  private readonly steps = new Map<string, number>();
  /** State of parameters outside the current segments (restored from a checkpoint, or not trained now). */
  private readonly parked = new Map<string, ParameterState>();

  constructor(readonly config: OptimizerConfig) {}

  /**
   * Updates `parameters` in place with `gradient` (their flat concatenation) times `scale` at learning rate
   * `lr`.
   */
  step(lr: number, parameters: readonly FlatParameter[], gradient: Float32Array, scale = 1): void {
    const total = parameters.reduce((sum, parameter) => sum + parameter.variable.size, 0);
    if (gradient.length !== total) throw new Error(`gradient has ${gradient.length} values for ${total} weights`);
    this.useLayout(parameters);
    let offset = 0;
    for (const { names, lengths, segment } of this.segments) {
      const length = sum(lengths);
      const steps = (this.steps.get(names[0]!) ?? 0) + 1;
      for (const name of names) this.steps.set(name, steps);
      segment.step(lr, steps, gradient.subarray(offset, offset + length), scale);
      offset += length;
    }
  }

  /** Every parameter's state, read from the device once (for a checkpoint). */
  snapshot(): Map<string, ParameterState> {
    const states = new Map(this.parked);
    for (const { names, lengths, segment } of this.segments) {
      const { first, second } = segment.read();
      let offset = 0;
      names.forEach((name, i) => {
        const slice = (values: Float32Array | undefined): Float32Array | undefined =>
          values?.slice(offset, offset + lengths[i]!);
        const steps = this.steps.get(name) ?? 0;
        const [f, s] = steps === 0 ? [undefined, undefined] : [slice(first), slice(second)];
        states.set(name, {
          steps,
          ...(f !== undefined ? { first: f } : {}),
          ...(s !== undefined ? { second: s } : {})
        });
        offset += lengths[i]!;
      });
    }
    return states;
  }

  /** Restores one parameter's state before training resumes. */
  restore(name: string, state: ParameterState): void {
    if (this.layout.includes(name)) throw new Error(`restore ${name} before the first step, not after`);
    this.parked.set(name, state);
    this.steps.set(name, state.steps);
  }

  dispose(): void {
    for (const { segment } of this.segments) segment.dispose();
    this.segments = [];
    this.layout = [];
  }

  /** Rebuilds the segments when the trained parameters change, carrying over what each parameter had. */
  private useLayout(parameters: readonly FlatParameter[]): void {
    const names = parameters.map(({ name }) => name);
    if (names.length === this.layout.length && names.every((name, i) => name === this.layout[i])) return;
    for (const [name, state] of this.snapshot()) this.parked.set(name, state);
    this.dispose();
    this.layout = names;
    const runs: FlatParameter[][] = [];
    for (const parameter of parameters) {
      const last = runs.at(-1);
      const sameSteps =
        last !== undefined && (this.steps.get(last[0]!.name) ?? 0) === (this.steps.get(parameter.name) ?? 0);
      if (sameSteps) last.push(parameter);
      else runs.push([parameter]);
    }
    this.segments = runs.map((run) => {
      const lengths = run.map(({ variable }) => variable.size);
      const init = { config: this.config, parameters: run, length: sum(lengths), ...this.gather(run, lengths) };
      const segment = tf.getBackend() === 'tensorflow' ? createTensorflowSegment(init) : new JavaScriptSegment(init);
      return { names: run.map(({ name }) => name), lengths, segment };
    });
    for (const name of names) this.parked.delete(name);
  }

  private gather(
    run: readonly FlatParameter[],
    lengths: readonly number[]
  ): { first?: Float32Array; second?: Float32Array } {
    const moments = this.config.kind === 'adam' ? 2 : this.config.momentum > 0 ? 1 : 0;
    const flat = (pick: (state: ParameterState) => Float32Array | undefined): Float32Array => {
      const values = new Float32Array(sum(lengths));
      let offset = 0;
      run.forEach(({ name }, i) => {
        const saved = this.parked.get(name);
        const part = saved === undefined ? undefined : pick(saved);
        if (part !== undefined) values.set(part, offset);
        offset += lengths[i]!;
      });
      return values;
    };
    return {
      ...(moments >= 1 ? { first: flat((state) => state.first) } : {}),
      ...(moments === 2 ? { second: flat((state) => state.second) } : {})
    };
  }
}

/**
 * wasm and cpu: a master copy of the weights and the moments in Float32Arrays, stepped by a plain loop (doubles
 * rounded to float32 on store, as before the optimizer moved to the device), then written to the variables.
 */
class JavaScriptSegment implements OptimizerSegment {
  private readonly weights: Float32Array;
  private readonly first: Float32Array;
  private readonly second: Float32Array;

  constructor(private readonly init: SegmentInit) {
    this.weights = new Float32Array(init.length);
    let offset = 0;
    for (const { variable } of init.parameters) {
      this.weights.set(variable.dataSync() as Float32Array, offset);
      offset += variable.size;
    }
    this.first = init.first ?? new Float32Array(0);
    this.second = init.second ?? new Float32Array(0);
  }

  step(lr: number, steps: number, gradient: Float32Array, scale: number): void {
    const { config, parameters } = this.init;
    const g = scale === 1 ? gradient : gradient.map((value) => value * scale);
    if (config.kind === 'sgd')
      sgdLoop(this.weights, g, this.first, config.momentum, config.nesterov, config.weightDecay, lr);
    else {
      const { beta1, beta2, epsilon, weightDecay, decoupled } = config;
      adamLoop(
        this.weights,
        g,
        this.first,
        this.second,
        beta1,
        beta2,
        epsilon,
        lr / (1 - beta1 ** steps),
        Math.sqrt(1 - beta2 ** steps),
        decoupled ? 0 : weightDecay,
        decoupled ? 1 - lr * weightDecay : 1
      );
    }
    const flat = tf.tensor1d(this.weights);
    assignFlat(parameters, flat);
    flat.dispose();
  }

  read(): { first?: Float32Array; second?: Float32Array } {
    return {
      ...(this.first.length > 0 ? { first: this.first.slice() } : {}),
      ...(this.second.length > 0 ? { second: this.second.slice() } : {})
    };
  }

  dispose(): void {}
}

/** SGD's loop; a zero buffer makes the first step momentum·0 + d = d, torch's "buffer = gradient". */
function sgdLoop(
  w: Float32Array,
  g: Float32Array,
  buffer: Float32Array,
  momentum: number,
  nesterov: boolean,
  weightDecay: number,
  lr: number
): void {
  const n = w.length;
  for (let i = 0; i < n; i++) {
    let d = g[i]! + weightDecay * w[i]!;
    if (momentum > 0) {
      buffer[i] = momentum * buffer[i]! + d;
      d = nesterov ? d + momentum * buffer[i]! : buffer[i]!;
    }
    w[i] = w[i]! - lr * d;
  }
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
  decay: number
): void {
  const oneMinusBeta1 = 1 - beta1;
  const oneMinusBeta2 = 1 - beta2;
  const n = w.length;
  for (let i = 0; i < n; i++) {
    const wi = w[i]! * decay;
    const gi = g[i]! + l2 * w[i]!;
    m[i] = beta1 * m[i]! + oneMinusBeta1 * gi;
    v[i] = beta2 * v[i]! + oneMinusBeta2 * gi * gi;
    // torch computes with the float32-stored moments; read them back to use the same values.
    w[i] = wi - (stepSize * m[i]!) / (Math.sqrt(v[i]!) / sqrtCorrection2 + epsilon);
  }
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
