import * as tf from '@tensorflow/tfjs-core';

/**
 * A gradient tape recorded once and played back later, in pieces: what `tf.grads` does in one call, split so that a
 * network's forward pass runs once, stage by stage, and its backward pass runs stage by stage with the upstream
 * gradient of the later stage. tfjs-core has no public API for that (its `gradients` records and plays back in one
 * call), so this drives the engine's own tape through the methods `gradients` uses (`startTape`, `endTape`,
 * `state.activeTape`), pinned by the exact tfjs-core version in package.json; `recordTape` fails loudly if a
 * version changes them. Playback mirrors tfjs-core 4.22's `backpropagateGradients` (tape.ts): same node order,
 * same accumulation order, so the gradients are the bits `tf.grads` would give.
 */

/** One recorded kernel call, as tfjs-core's engine stores it. */
interface TapeNode {
  readonly id: number;
  readonly kernelName: string;
  readonly inputs: Readonly<Record<string, tf.Tensor>>;
  readonly outputs: readonly tf.Tensor[];
  /** Null entries in `dys` stand for outputs off the path to y; the engine fills them with zeros. */
  readonly gradient?: (dys: ReadonlyArray<tf.Tensor | null>) => Record<string, () => tf.Tensor>;
  /** Kept clones of the tensors the gradient needs; freed when the tape is. */
  readonly saved?: readonly tf.Tensor[];
}

interface TapeEngine {
  startTape(): void;
  endTape(): void;
  readonly state: { activeTape: TapeNode[] | null; gradientDepth: number };
}

/** The ops of one recorded function; `dispose` frees what they saved for the backward pass. */
export class RecordedTape {
  private nodes: readonly TapeNode[] | undefined;

  constructor(nodes: readonly TapeNode[]) {
    this.nodes = nodes;
  }

  /**
   * Gradients of `y` (an output of the recorded function) with respect to each of `xs`, given `dy`, the gradient
   * of the loss with respect to `y`. An x that `y` does not depend on gets zeros. The caller owns the results.
   */
  backward(y: tf.Tensor, dy: tf.Tensor, xs: readonly tf.Tensor[]): tf.Tensor[] {
    const nodes = this.nodes;
    if (nodes === undefined) throw new Error('this gradient tape was already disposed');
    if (dy.dtype !== 'float32') throw new Error(`dy must be float32, got ${dy.dtype}`);
    return tf.tidy(() => {
      // Nodes that depend on an x (and which of their outputs do), in tape order.
      const fromX = new Set(xs.map((x) => x.id));
      const dependsOnX = new Set<TapeNode>();
      for (const node of nodes) {
        if (Object.values(node.inputs).some((input) => fromX.has(input.id))) {
          dependsOnX.add(node);
          for (const output of node.outputs) fromX.add(output.id);
        }
      }
      // Of those, the ones on a path to y, in reverse tape order: the order of playback.
      const leadsToY = new Set([y.id]);
      const path: TapeNode[] = [];
      for (let i = nodes.length - 1; i >= 0; i--) {
        const node = nodes[i]!;
        if (!node.outputs.some((output) => leadsToY.has(output.id))) continue;
        for (const input of Object.values(node.inputs)) leadsToY.add(input.id);
        if (dependsOnX.has(node)) path.push(node);
      }
      const accumulated = new Map<number, tf.Tensor>([[y.id, dy]]);
      for (const node of path) {
        if (node.gradient === undefined) throw new Error(`no gradient function for ${node.kernelName}`);
        const inputGradients = node.gradient(node.outputs.map((output) => accumulated.get(output.id) ?? null));
        for (const [inputName, input] of Object.entries(node.inputs)) {
          if (!fromX.has(input.id)) continue; // not a function of any x: tfjs prunes these inputs too
          const gradient = inputGradients[inputName];
          if (gradient === undefined)
            throw new Error(`${node.kernelName} gives no gradient for its input ${inputName}`);
          const dx = tf.tidy(gradient);
          const current = accumulated.get(input.id);
          accumulated.set(input.id, current === undefined ? dx : tf.add(current, dx));
          if (current !== undefined && current !== dy) current.dispose();
        }
      }
      return xs.map((x) => accumulated.get(x.id) ?? tf.zerosLike(x));
    });
  }

  /** Frees the tensors the recorded ops saved for their gradients. Idempotent. */
  dispose(): void {
    for (const node of this.nodes ?? []) for (const saved of node.saved ?? []) saved.dispose();
    this.nodes = undefined;
  }
}

/**
 * Runs `f` (inside a tidy) with the engine recording its ops, and returns its result and that recording. Not
 * inside another gradient computation (`tf.grads`, `tf.variableGrads`): their tapes would mix with this one.
 */
export function recordTape<T extends tf.TensorContainer>(
  f: () => T
): { readonly result: T; readonly tape: RecordedTape } {
  const engine = tapeEngine();
  if (engine.state.gradientDepth !== 0) throw new Error('recordTape cannot run inside another gradient computation');
  engine.startTape();
  let result: T;
  try {
    result = tf.tidy(f);
  } finally {
    engine.endTape();
  }
  const nodes = engine.state.activeTape ?? [];
  // As tfjs-core's own `gradients` does once it is done: the next recording starts from an empty tape.
  engine.state.activeTape = null;
  return { result, tape: new RecordedTape(nodes) };
}

function tapeEngine(): TapeEngine {
  const engine = tf.engine() as unknown as Partial<TapeEngine>;
  if (
    typeof engine.startTape !== 'function' ||
    typeof engine.endTape !== 'function' ||
    typeof engine.state?.gradientDepth !== 'number'
  ) {
    throw new Error(
      'this tfjs-core engine has no startTape/endTape/state.gradientDepth: the staged backward needs 4.22'
    );
  }
  return engine as TapeEngine;
}
