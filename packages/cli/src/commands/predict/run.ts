import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { UsageError } from '../../errors.js';
import { parseOptions } from '../../options.js';
import { backendFlag, chooseModel, openTrainedModel } from './model-flags.js';

const schema = z.object({
  model: z.string().min(1).optional(),
  top: z.coerce.number().int().min(1),
  logits: z.boolean().optional(),
  imageSize: z.coerce.number().int().min(8).max(1024).optional(),
  backend: backendFlag,
  json: z.boolean().optional()
});

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp']);

export async function runPredict(inputs: readonly string[], raw: Record<string, unknown>): Promise<void> {
  const options = parseOptions(schema, raw);
  const modelUri = chooseModel(options.model === undefined ? inputs[0] : undefined, options.model);
  const images = options.model === undefined ? inputs.slice(1) : inputs;
  if (images.length === 0) throw new UsageError('no images: give image files or directories after the model');
  const files = await imageFiles(images);
  const { predictFiles, TrainedModelError } = await import('@ringtrain/worker');
  const trained = await openTrainedModel(modelUri, options.backend);
  const named = await Promise.all(files.map(async (file) => ({ name: file, bytes: await readFile(file) })));
  let predictions;
  try {
    predictions = await predictFiles(trained, named, {
      topK: Math.min(options.top, trained.labels.length),
      logits: options.logits === true,
      ...(options.imageSize !== undefined ? { imageSize: options.imageSize } : {})
    });
  } catch (error) {
    if (error instanceof TrainedModelError) throw new UsageError(error.message);
    throw error;
  } finally {
    trained.model.dispose();
  }
  for (const prediction of predictions) {
    if (options.json) {
      process.stdout.write(`${JSON.stringify(prediction)}\n`);
    } else {
      const ranked = prediction.top
        .map((entry) => `${entry.label} ${(100 * entry.probability).toFixed(1)}%`)
        .join(', ');
      process.stdout.write(`${prediction.file}: ${ranked}\n`);
      if (prediction.logits !== undefined)
        process.stdout.write(
          `  logits: ${prediction.logits.map((value, index) => `${trained.labels[index]} ${value.toFixed(4)}`).join(', ')}\n`
        );
    }
  }
}

/** The named files, and the images inside named directories (recursively, sorted). */
async function imageFiles(inputs: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const input of inputs) {
    const info = await stat(input).catch(() => undefined);
    if (info === undefined) throw new UsageError(`${input}: no such file or directory`);
    if (info.isFile()) {
      files.push(input);
      continue;
    }
    const entries = await readdir(input, { recursive: true, withFileTypes: true });
    const images = entries
      .filter((entry) => entry.isFile() && IMAGE_EXTENSIONS.has(path.extname(entry.name).toLowerCase()))
      .map((entry) => path.join(entry.parentPath, entry.name))
      .sort();
    if (images.length === 0) throw new UsageError(`${input}: no .jpg, .jpeg, .png or .webp files inside`);
    files.push(...images);
  }
  return files;
}
