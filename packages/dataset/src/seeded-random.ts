import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

/**
 * A deterministic random stream keyed by a tuple of integers, e.g. (seed, epoch) for a shuffle or
 * (seed, epoch, sample) for one sample's augmentation. Keying by the tuple, instead of advancing one shared
 * generator, is what makes resume exact: sample 1234 of epoch 5 gets the same crop whichever rank decodes it,
 * in whatever order, before or after a restart.
 */
export type SeededRandom = {
  /** Uniform in [0, 1). */
  float(): number;
  /** Uniform integer in [0, bound). */
  int(bound: number): number;
};

export function seededRandom(...keys: readonly number[]): SeededRandom {
  const rng = xoroshiro128plus(mixKeys(keys));
  return {
    float: () => uniformFloat64(rng),
    int: (bound) => uniformInt(rng, 0, bound - 1)
  };
}

/** Fisher–Yates in place. */
export function shuffleInPlace<T>(items: T[] | Uint32Array, random: SeededRandom): void {
  for (let i = items.length - 1; i > 0; i -= 1) {
    const j = random.int(i + 1);
    const swap = items[i]!;
    items[i] = items[j]!;
    items[j] = swap;
  }
}

/** murmur3's 32-bit finaliser folded over the keys: distinct tuples give unrelated seeds. */
function mixKeys(keys: readonly number[]): number {
  let h = 0x9e3779b9 ^ keys.length;
  for (const key of keys) {
    if (!Number.isSafeInteger(key)) throw new RangeError(`random keys must be safe integers, got ${key}`);
    // Fold both 32-bit halves so that keys above 2^32 (large seeds) still matter.
    for (const part of [key >>> 0, Math.floor(key / 2 ** 32) >>> 0]) {
      h = Math.imul(h ^ part, 0x85ebca6b);
      h ^= h >>> 13;
      h = Math.imul(h, 0xc2b2ae35);
      h ^= h >>> 16;
    }
  }
  return h | 0;
}
