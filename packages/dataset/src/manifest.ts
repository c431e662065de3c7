import { z } from 'zod';

/** Version of manifest.json and of the shard layout it points to; readers refuse versions they do not know. */
export const manifestFormatVersion = 1;
export const manifestKey = 'manifest.json';
export const splitNames = ['train', 'val'] as const;
export type SplitName = (typeof splitNames)[number];

const shardSchema = z.object({
  /** Key relative to the dataset URI, e.g. `train/shard-00000.rtshard`. */
  key: z.string().min(1),
  /** Index of the shard's first sample within its split; shards cover the split contiguously, in order. */
  firstSample: z.number().int().nonnegative(),
  sampleCount: z.number().int().positive(),
  bytes: z.number().int().positive(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/)
});

const splitSchema = z.object({
  count: z.number().int().nonnegative(),
  /** Samples per class index, so users can check the stratification. */
  classCounts: z.array(z.number().int().nonnegative()),
  shards: z.array(shardSchema)
});

export const manifestSchema = z.object({
  formatVersion: z.literal(manifestFormatVersion),
  /** Class names; a sample's label is an index into this list (sorted names, like torchvision's ImageFolder). */
  classes: z.array(z.string().min(1)).min(1),
  splits: z.object({ train: splitSchema, val: splitSchema }),
  ingest: z.object({
    seed: z.number().int(),
    valFraction: z.number().min(0).max(1),
    maxResolution: z.number().int().positive().nullable(),
    shardSizeBytes: z.number().int().positive(),
    corrupt: z.array(z.object({ path: z.string(), reason: z.string() }))
  })
});

export type Manifest = z.infer<typeof manifestSchema>;
export type ManifestShard = z.infer<typeof shardSchema>;
export type ManifestSplit = z.infer<typeof splitSchema>;

/** Parses and checks a manifest, including what a schema cannot say: shards tile the split exactly. */
export function parseManifest(bytes: Buffer | string, origin: string): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString());
  } catch (error) {
    throw new Error(`${origin} is not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  const version = typeof json === 'object' && json !== null && 'formatVersion' in json ? json.formatVersion : undefined;
  if (version !== manifestFormatVersion) {
    throw new Error(
      `${origin} has format version ${String(version)}; this ringtrain reads version ${manifestFormatVersion}: re-ingest the dataset or upgrade ringtrain`
    );
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
    throw new Error(`${origin} is not a valid manifest: ${problems}`);
  }
  for (const name of splitNames) {
    const split = parsed.data.splits[name];
    let next = 0;
    for (const shard of split.shards) {
      if (shard.firstSample !== next)
        throw new Error(
          `${origin}: ${name} shard ${shard.key} starts at sample ${shard.firstSample}, expected ${next}`
        );
      next += shard.sampleCount;
    }
    if (next !== split.count)
      throw new Error(`${origin}: ${name} shards hold ${next} samples but the split counts ${split.count}`);
  }
  return parsed.data;
}

export function shardSampleCounts(split: ManifestSplit): number[] {
  return split.shards.map((shard) => shard.sampleCount);
}
