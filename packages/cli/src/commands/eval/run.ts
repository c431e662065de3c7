import { writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { UsageError } from '../../errors.js';
import { parseOptions } from '../../options.js';
import { backendFlag, openTrainedModel } from '../predict/model-flags.js';

const schema = z.object({
  data: z.string().min(1).optional(),
  split: z.enum(['train', 'val']),
  batchSize: z.coerce.number().int().min(1).max(4096),
  imageSize: z.coerce.number().int().min(8).max(1024).optional(),
  backend: backendFlag,
  threads: z.coerce.number().int().min(1).optional(),
  out: z.string().min(1).optional(),
  json: z.boolean().optional(),
});

const RunFileSchema = z.object({ dataset: z.string().min(1) });

export async function runEval(modelUri: string, raw: Record<string, unknown>): Promise<void> {
  const options = parseOptions(schema, raw);
  const { evaluateModel, TrainedModelError } = await import('@ringtrain/worker');
  const { readObject, isNotFound } = await import('@ringtrain/dataset');
  let dataset = options.data;
  if (dataset === undefined) {
    let runFile: Buffer;
    try {
      runFile = await readObject(`${modelUri.replace(/\/+$/, '')}/run.json`);
    } catch (error) {
      if (isNotFound(error)) throw new UsageError(`${modelUri} is not a run's output (no run.json), so its dataset is unknown: give --data <dataset URI>`);
      throw error;
    }
    const parsed = RunFileSchema.safeParse(JSON.parse(runFile.toString('utf8')));
    if (!parsed.success) throw new UsageError(`${modelUri}/run.json names no dataset: give --data <dataset URI>`);
    dataset = parsed.data.dataset;
  }
  const trained = await openTrainedModel(modelUri, options.backend);
  const report = await evaluateModel(trained, {
    dataset, split: options.split, batchSize: options.batchSize,
    ...(options.imageSize !== undefined ? { imageSize: options.imageSize } : {}),
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
  }).catch((error: unknown) => {
    throw error instanceof TrainedModelError ? new UsageError(error.message) : error;
  }).finally(() => trained.model.dispose());
  if (options.out !== undefined) await writeFile(options.out, `${JSON.stringify(report, null, 1)}\n`);
  if (options.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return;
  }
  const percent = (value: number | null): string => (value === null ? '   n/a' : `${(100 * value).toFixed(1).padStart(5)}%`);
  const width = Math.max(5, ...report.classes.map((name) => name.length));
  process.stdout.write(
    `${report.split} split of ${report.dataset}, ${report.imageSize}px: ${report.correct}/${report.count} correct = ` +
      `accuracy ${(100 * report.accuracy).toFixed(2)}%, loss ${report.loss.toFixed(4)}` +
      `${report.skipped > 0 ? ` (${report.skipped} corrupt images skipped)` : ''}\n\nper class (recall):\n` +
      report.perClass.map((entry) => `  ${entry.className.padEnd(width)} ${percent(entry.accuracy)}  ${entry.correct}/${entry.total}`).join('\n') +
      `\n\nconfusion matrix (rows: true class, columns: predicted):\n` +
      `  ${''.padEnd(width)} ${report.classes.map((_, index) => String(index).padStart(5)).join('')}\n` +
      report.confusion.map((row, index) => `  ${`${index} ${report.classes[index]}`.slice(0, width).padEnd(width)} ${row.map((value) => String(value).padStart(5)).join('')}`).join('\n') +
      '\n',
  );
}
