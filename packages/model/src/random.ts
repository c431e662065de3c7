import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus, xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';
import type { JumpableRandomGenerator } from 'pure-rand/types/JumpableRandomGenerator';

/** A source of uniform numbers in [0, 1); what the planners and initialisers need, nothing more. */
export interface UniformSource {
  uniform(): number;
}

/**
 * A seeded xoroshiro128+ generator whose state can be saved and restored exactly, so a resumed run draws
 * the same numbers as one that never stopped (checkpoints carry `state()`).
 */
export class SeededRandom implements UniformSource {
  private constructor(private readonly generator: JumpableRandomGenerator) {}

  static fromSeed(seed: number): SeededRandom {
    if (!Number.isInteger(seed)) throw new Error(`random seed must be an integer, got ${seed}`);
    return new SeededRandom(xoroshiro128plus(seed | 0));
  }

  static fromState(state: readonly number[]): SeededRandom {
    return new SeededRandom(xoroshiro128plusFromState(state));
  }

  uniform(): number {
    return uniformFloat64(this.generator);
  }

  /** A standard normal draw (Box–Muller; one of the pair is discarded to keep the state a plain generator). */
  normal(): number {
    const u1 = 1 - this.uniform();
    const u2 = this.uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  state(): number[] {
    return [...this.generator.getState()];
  }
}
