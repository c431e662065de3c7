import { seededRandom, shuffleInPlace } from './seeded-random.js';
import type { SourceItem } from './source-scan.js';

/**
 * Deterministic stratified train/validation split: each class contributes round(n·valFraction) samples to
 * validation (keeping at least one for training), chosen by a shuffle keyed by (seed, class). Each split is then
 * shuffled as a whole, so every shard mixes classes and a shard-level shuffle never yields class-biased batches
 * (the ffcv#304 trap). The result depends only on the set of items, the seed and the fraction, not on the order
 * in which the filesystem listed them.
 */
export function stratifiedSplit(
  items: readonly SourceItem[],
  classCount: number,
  valFraction: number,
  seed: number
): { train: SourceItem[]; val: SourceItem[] } {
  const byClass: SourceItem[][] = Array.from({ length: classCount }, () => []);
  for (const item of items) byClass[item.label]!.push(item);
  const train: SourceItem[] = [];
  const val: SourceItem[] = [];
  for (const [label, members] of byClass.entries()) {
    members.sort((a, b) => (a.sourcePath < b.sourcePath ? -1 : a.sourcePath > b.sourcePath ? 1 : 0));
    shuffleInPlace(members, seededRandom(seed, 1, label));
    const valCount = Math.min(Math.round(members.length * valFraction), members.length - 1);
    val.push(...members.slice(0, Math.max(0, valCount)));
    train.push(...members.slice(Math.max(0, valCount)));
  }
  shuffleInPlace(train, seededRandom(seed, 2));
  shuffleInPlace(val, seededRandom(seed, 3));
  return { train, val };
}
