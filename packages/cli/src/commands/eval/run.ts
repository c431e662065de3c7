import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { UsageError } from '../../errors.js';
import { parseOptions } from '../../options.js';
import { backendFlag, chooseModel, openTrainedModel } from '../predict/model-flags.js';

const schema = z.object({
  model: z.string().min(1).optional(),
  data: z.string().min(1).optional(),
  split: z.enum(['train', 'val']),
  batchSize: z.coerce.number().int().min(1).max(4096),
  imageSize: z.coerce.number().int().min(8).max(1024).optional(),
  backend: backendFlag,
  threads: z.coerce.number().int().min(1).optional(),
  out: z.string().min(1).optional(),
  json: z.boolean().optional()
});

const RunFileSchema = z.object({ dataset: z.string().min(1) });

export async function runEval(run: string | undefined, raw: Record<string, unknown>): Promise<void> {
  const options = parseOptions(schema, raw);
  const modelUri = chooseModel(run, options.model);
  const { evaluateModel, TrainedModelError } = await import('@ringtrain/worker');
  const { ingest, readObject, isNotFound } = await import('@ringtrain/dataset');
  let dataset = options.data;
  let split = options.split;
  let ingested: string | undefined;
  if (dataset !== undefined && (await isImageFolder(dataset))) {
    // An ImageFolder is packed whole into a throwaway dataset (all in its train split) and read as training reads.
    ingested = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-eval-'));
    process.stderr.write(`ringtrain: packing ${dataset} for evaluation\n`);
    try {
      await ingest({ source: dataset, to: ingested, valFraction: 0, seed: 0 });
    } catch (error) {
      await rm(ingested, { recursive: true, force: true });
      throw new UsageError(`--data ${dataset}: ${error instanceof Error ? error.message : String(error)}`);
    }
    dataset = ingested;
    split = 'train';
  }
  if (dataset === undefined) {
    let runFile: Buffer;
    try {
      runFile = await readObject(`${modelUri.replace(/\/+$/, '')}/run.json`);
    } catch (error) {
      if (isNotFound(error))
        throw new UsageError(
          `${modelUri} is not a run's output (no run.json), so its dataset is unknown: give --data <dataset URI>`
        );
      throw error;
    }
    const parsed = RunFileSchema.safeParse(JSON.parse(runFile.toString('utf8')));
    if (!parsed.success) throw new UsageError(`${modelUri}/run.json names no dataset: give --data <dataset URI>`);
    dataset = parsed.data.dataset;
  }
  const trained = await openTrainedModel(modelUri, options.backend);
  const measured = await evaluateModel(trained, {
    dataset,
    split,
    batchSize: options.batchSize,
    onProgress: progressLine(),
    ...(options.imageSize !== undefined ? { imageSize: options.imageSize } : {}),
    ...(options.threads !== undefined ? { threads: options.threads } : {})
  })
    .catch((error: unknown) => {
      throw error instanceof TrainedModelError ? new UsageError(error.message) : error;
    })
    .finally(async () => {
      trained.model.dispose();
      if (ingested !== undefined) await rm(ingested, { recursive: true, force: true });
    });
  // A packed folder is named as the user gave it, not by its throwaway copy.
  const report = ingested === undefined ? measured : { ...measured, dataset: options.data! };
  const where =
    ingested === undefined ? `${report.split} split of ${report.dataset}` : `all images of ${report.dataset}`;
  if (options.out !== undefined) await writeFile(options.out, `${JSON.stringify(report, null, 1)}\n`);
  if (options.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return;
  }
  const percent = (value: number | null): string =>
    value === null ? '   n/a' : `${(100 * value).toFixed(1).padStart(5)}%`;
  const width = Math.max(5, ...report.classes.map((name) => name.length));
  process.stdout.write(
    `${where}, ${report.imageSize}px: ${report.correct}/${report.count} correct = ` +
      `accuracy ${(100 * report.accuracy).toFixed(2)}% (top-5 ${(100 * report.top5Accuracy).toFixed(2)}%), loss ${report.loss.toFixed(4)}` +
      `${report.skipped > 0 ? ` (${report.skipped} corrupt images skipped)` : ''}\n\nper class (recall):\n` +
      report.perClass
        .map(
          (entry) => `  ${entry.className.padEnd(width)} ${percent(entry.accuracy)}  ${entry.correct}/${entry.total}`
        )
        .join('\n') +
      `\n\nconfusion matrix (rows: true class, columns: predicted):\n` +
      `  ${''.padEnd(width)} ${report.classes.map((_, index) => String(index).padStart(5)).join('')}\n` +
      report.confusion
        .map(
          (row, index) =>
            `  ${`${index} ${report.classes[index]}`.slice(0, width).padEnd(width)} ${row.map((value) => String(value).padStart(5)).join('')}`
        )
        .join('\n') +
      '\n'
  );
}

/** A local directory without a manifest.json: images to pack, not a dataset. */
async function isImageFolder(data: string): Promise<boolean> {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(data)) return false;
  const info = await stat(data).catch(() => undefined);
  if (info === undefined || !info.isDirectory()) return false;
  return (await stat(path.join(data, 'manifest.json')).catch(() => undefined)) === undefined;
}

/** "evaluated 640/4,800 images" on stderr, at most every 2 s, so a long evaluation shows it is moving. */
function progressLine(): (done: number, total: number) => void {
  let shown = 0;
  return (done, total) => {
    const now = Date.now();
    if (now - shown < 2_000 && done < total) return;
    shown = now;
    process.stderr.write(
      `ringtrain: evaluated ${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')} images\n`
    );
  };
}
