import { z } from 'zod';
import { parseOptions } from '../../options.js';
import { ExitError, exitCodeFor } from '../../errors.js';

const units: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3
};

/** "64MiB", "512 KiB", "1e6", "2000000" → bytes. */
export const byteSize = z.string().transform((text, context) => {
  const match = /^\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const factor = match ? units[match[2]!.toLowerCase()] : undefined;
  if (!match || factor === undefined) {
    context.addIssue({
      code: 'custom',
      message: `"${text}" is not a size; use e.g. 64MiB, 512KiB or a number of bytes`
    });
    return z.NEVER;
  }
  const bytes = Math.round(Number(match[1]) * factor);
  if (bytes < 1) {
    context.addIssue({ code: 'custom', message: 'must be at least one byte' });
    return z.NEVER;
  }
  return bytes;
});

const schema = z.object({
  to: z.string().min(1),
  valFraction: z.coerce.number().min(0).max(0.99),
  seed: z.coerce.number().int().nonnegative(),
  shardSize: byteSize,
  maxResolution: z.coerce.number().int().min(8).optional(),
  concurrency: z.coerce.number().int().min(1).optional(),
  createBucket: z.boolean().optional(),
  json: z.boolean().optional()
});

export async function runIngest(source: string, raw: Record<string, unknown>): Promise<void> {
  const options = parseOptions(schema, raw);
  const { ingest, openStore, S3Store } = await import('@ringtrain/dataset');
  const progress = progressReporter();
  let summary;
  try {
    const store = openStore(options.to);
    if (options.createBucket && store instanceof S3Store) await store.ensureBucket();
    summary = await ingest({
      source,
      to: options.to,
      store,
      valFraction: options.valFraction,
      seed: options.seed,
      shardSizeBytes: options.shardSize,
      ...(options.maxResolution ? { maxResolution: options.maxResolution } : {}),
      ...(options.concurrency ? { decodeConcurrency: options.concurrency } : {}),
      onEvent: (event) => {
        if (event.type === 'scanned') {
          process.stderr.write(`ingest: ${event.images} images in ${event.classes} classes\n`);
          if (event.ignoredFiles.length > 0) {
            process.stderr.write(
              `ingest: warning: ignored ${event.ignoredFiles.length} non-image files (first: ${event.ignoredFiles[0]})\n`
            );
          }
        } else if (event.type === 'corrupt')
          progress.note(`ingest: skipped corrupt image ${event.path}: ${event.reason}`);
        else
          progress.update(
            event.imagesDone,
            event.imagesTotal,
            `${event.shardsUploaded} shards uploaded, ${event.shardsSkipped} already present`
          );
      }
    });
  } catch (error) {
    progress.done();
    throw new ExitError(exitCodeFor(error), error instanceof Error ? error.message : String(error));
  }
  progress.done();
  const { manifest } = summary;
  const result = {
    dataset: options.to,
    classes: manifest.classes.length,
    train: manifest.splits.train.count,
    val: manifest.splits.val.count,
    shards: manifest.splits.train.shards.length + manifest.splits.val.shards.length,
    shardsUploaded: summary.shardsUploaded,
    shardsSkipped: summary.shardsSkipped,
    bytesUploaded: summary.bytesUploaded,
    corrupt: summary.corrupt.length,
    ignoredFiles: summary.ignoredFiles
  };
  if (options.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else {
    process.stdout.write(
      `ingested ${result.train} train + ${result.val} val images of ${result.classes} classes into ${result.shards} shards at ${options.to}\n` +
        `  ${result.shardsUploaded} shards uploaded (${(result.bytesUploaded / 2 ** 20).toFixed(1)} MiB), ${result.shardsSkipped} already present\n` +
        `  ${result.corrupt} corrupt images skipped, ${result.ignoredFiles} non-image files ignored\n`
    );
  }
}

/** A bar that redraws in place on a terminal, and a line per 10% when stderr is a log. */
function progressReporter(): {
  update(done: number, total: number, detail: string): void;
  note(line: string): void;
  done(): void;
} {
  const tty = process.stderr.isTTY === true;
  let lastDecile = -1;
  let drawn = false;
  return {
    update(done, total, detail) {
      const fraction = total === 0 ? 1 : done / total;
      if (tty) {
        const width = 30;
        const filled = Math.round(fraction * width);
        process.stderr.write(
          `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} images, ${detail}`
        );
        drawn = true;
      } else if (Math.floor(fraction * 10) > lastDecile) {
        lastDecile = Math.floor(fraction * 10);
        process.stderr.write(`ingest: ${done}/${total} images, ${detail}\n`);
      }
    },
    note(line) {
      process.stderr.write(`${drawn ? '\n' : ''}${line}\n`);
      drawn = false;
    },
    done() {
      if (drawn) process.stderr.write('\n');
      drawn = false;
    }
  };
}
