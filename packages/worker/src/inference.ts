import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { perClassAccuracy, type ClassAccuracy } from '@ringtrain/protocol';
import {
  DataLoader,
  isNotFound,
  loadManifest,
  openStore,
  transformImage,
  type CropPlanner,
  type ObjectStore
} from '@ringtrain/dataset';
import {
  decodeSafetensors,
  evaluateBatch,
  IMAGENET_MEAN,
  IMAGENET_STD,
  loadSafetensorsWeights,
  planEvalResize,
  predictLogits,
  softmax,
  type ResNet18
} from '@ringtrain/model';

/** torchvision's eval transform: Resize(int(size·256/224)) with Pillow's bilinear filter, then CenterCrop(size). */
const evalPlanner: CropPlanner = (width, height, _random, size) => planEvalResize(width, height, size);

/**
 * The evaluation transform every validation pass, `ringtrain eval` and `ringtrain predict` use (and training
 * without --augment), so that eval reproduces a run's reported accuracy and a torchvision model's logits on an
 * image file are torchvision's: Resize + CenterCrop + ToTensor + Normalize(ImageNet).
 */
export const EVAL_PIPELINE = { planner: evalPlanner, mean: IMAGENET_MEAN, std: IMAGENET_STD } as const;

/** A trained model as a run leaves it under model/: weights, class names, and the image size it was trained at. */
export interface TrainedModel {
  readonly model: ResNet18;
  readonly labels: readonly string[];
  /** Side in pixels of the images it was trained on, when the file records it. */
  readonly imageSize: number | undefined;
  /** The model directory's URI. */
  readonly uri: string;
}

/** The model URI names no trained model, or its files disagree. */
export class TrainedModelError extends Error {
  override readonly name = 'TrainedModelError';
}

const LabelsSchema = z.array(z.string()).min(1);

/**
 * Opens a trained model from a run's output (`runs/demo`, `s3://bucket/run`), its `model/` directory, or a
 * `.safetensors` file: weights in torchvision layout, class names from the file's metadata or `labels.json`
 * beside it.
 */
export async function loadTrainedModel(uri: string): Promise<TrainedModel> {
  const trimmed = uri.replace(/\/+$/, '');
  let modelUri = trimmed;
  let weightsKey = 'model.safetensors';
  if (trimmed.endsWith('.safetensors')) {
    const slash = trimmed.lastIndexOf('/');
    modelUri = slash < 0 ? '.' : trimmed.slice(0, slash) || '/';
    weightsKey = trimmed.slice(slash + 1);
  } else if ((await openStore(trimmed).stat('model/model.safetensors')) !== undefined) {
    modelUri = `${trimmed}/model`;
  }
  const store = openStore(modelUri);
  let bytes: Buffer;
  try {
    bytes = await store.get(weightsKey);
  } catch (error) {
    if (isNotFound(error))
      throw new TrainedModelError(
        `${uri} holds no trained model: expected model.safetensors (or model/model.safetensors under a run's output); train one with \`ringtrain train --out <dir>\``
      );
    throw error;
  }
  let header;
  try {
    header = decodeSafetensors(bytes);
  } catch (error) {
    throw new TrainedModelError(
      `${modelUri}/${weightsKey} is not a safetensors file (${error instanceof Error ? error.message : String(error)}): give the model.safetensors a run wrote`
    );
  }
  const fcShape = header.tensors.get('fc.weight')?.shape;
  if (fcShape === undefined || fcShape.length !== 2)
    throw new TrainedModelError(
      `${modelUri}/${weightsKey} has no fc.weight of rank 2: it is not a resnet18 state dict`
    );
  const numClasses = fcShape[0]!;
  const labels = await readLabels(store, header.metadata, numClasses, modelUri);
  const { model } = loadSafetensorsWeights(bytes, { numClasses });
  const recordedSize = Number(header.metadata.imageSize);
  return {
    model,
    labels,
    imageSize: Number.isInteger(recordedSize) && recordedSize > 0 ? recordedSize : undefined,
    uri: modelUri
  };
}

async function readLabels(
  store: ObjectStore,
  metadata: Record<string, string>,
  numClasses: number,
  modelUri: string
): Promise<string[]> {
  let source = 'the safetensors metadata';
  let text = metadata.labels;
  if (text === undefined) {
    source = `${modelUri}/labels.json`;
    try {
      text = (await store.get('labels.json')).toString('utf8');
    } catch (error) {
      if (!isNotFound(error)) throw error;
      return Array.from({ length: numClasses }, (_, index) => `class ${index}`);
    }
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new TrainedModelError(`${source}: not JSON; expected a JSON array of class names`);
  }
  const labels = LabelsSchema.safeParse(raw);
  if (!labels.success) throw new TrainedModelError(`${source}: expected a JSON array of class names`);
  if (labels.data.length !== numClasses)
    throw new TrainedModelError(`${source} names ${labels.data.length} classes but the model's head has ${numClasses}`);
  return labels.data;
}

export interface EvaluateOptions {
  /** The dataset's URI (the one holding manifest.json, as `ringtrain ingest` wrote it). */
  dataset: string;
  split: 'train' | 'val';
  batchSize: number;
  /** Default: the size the model records, else 224. */
  imageSize?: number;
  threads?: number;
  cacheDir?: string;
  /** Called after each batch with the images evaluated so far and the split's total. */
  onProgress?: (done: number, total: number) => void;
}

export interface EvaluationReport {
  readonly model: string;
  readonly dataset: string;
  readonly split: 'train' | 'val';
  readonly imageSize: number;
  readonly count: number;
  readonly correct: number;
  /** Top-1 accuracy. */
  readonly accuracy: number;
  /** Share of images whose class is among the model's five most probable. */
  readonly top5Accuracy: number;
  /** Mean cross-entropy. */
  readonly loss: number;
  /** Samples that failed to decode and were skipped. */
  readonly skipped: number;
  readonly classes: readonly string[];
  /** Row = true class, column = predicted class. */
  readonly confusion: readonly (readonly number[])[];
  readonly perClass: readonly ClassAccuracy[];
}

/** Every sample of one split through the model in inference mode, on the same crop as a run's validation. */
export async function evaluateModel(trained: TrainedModel, options: EvaluateOptions): Promise<EvaluationReport> {
  const { manifest } = await loadManifest(options.dataset);
  if (
    manifest.classes.length !== trained.labels.length ||
    manifest.classes.some((name, index) => name !== trained.labels[index])
  ) {
    throw new TrainedModelError(
      `the dataset's classes (${manifest.classes.join(', ')}) are not the model's (${trained.labels.join(', ')}), in order: evaluate on the dataset the model was trained on`
    );
  }
  const imageSize = options.imageSize ?? trained.imageSize ?? 224;
  const numClasses = trained.labels.length;
  const loader = new DataLoader({
    store: openStore(options.dataset),
    manifest,
    split: options.split,
    seed: 0,
    batchSize: options.batchSize,
    imageSize,
    ...EVAL_PIPELINE,
    cacheDir: options.cacheDir ?? path.join(os.tmpdir(), 'ringtrain-eval-cache'),
    cacheBytes: 2 ** 30,
    ...(options.threads !== undefined ? { threads: options.threads } : {})
  });
  const confusion = new Float64Array(numClasses * numClasses);
  let lossSum = 0;
  let correct = 0;
  let top5Correct = 0;
  let count = 0;
  try {
    const samples = Uint32Array.from({ length: manifest.splits[options.split].count }, (_, index) => index);
    for await (const batch of loader.epoch(samples, 0)) {
      const result = evaluateBatch(trained.model, batch.images, batch.labels, batch.count, imageSize);
      lossSum += result.lossSum;
      correct += result.correct;
      top5Correct += result.top5Correct;
      count += batch.count;
      options.onProgress?.(count, samples.length);
      result.confusion.forEach((value, index) => (confusion[index]! += value));
    }
  } finally {
    await loader.close();
  }
  const rows = Array.from({ length: numClasses }, (_, row) =>
    Array.from(confusion.subarray(row * numClasses, (row + 1) * numClasses))
  );
  return {
    model: trained.uri,
    dataset: options.dataset,
    split: options.split,
    imageSize,
    count,
    correct,
    accuracy: count === 0 ? 0 : correct / count,
    top5Accuracy: count === 0 ? 0 : top5Correct / count,
    loss: count === 0 ? 0 : lossSum / count,
    skipped: loader.stats.corrupt,
    classes: trained.labels,
    confusion: rows,
    perClass: perClassAccuracy(rows, trained.labels)
  };
}

export interface Prediction {
  readonly file: string;
  /** The topK most probable classes, most probable first. */
  readonly top: readonly { readonly label: string; readonly index: number; readonly probability: number }[];
  /** Every class's logit, in class order, when asked for. */
  readonly logits?: readonly number[];
}

/** Classifies image files (JPEG, PNG, WebP) with the evaluation crop, batchSize at a time. */
export async function predictFiles(
  trained: TrainedModel,
  files: readonly { name: string; bytes: Uint8Array }[],
  options: { topK: number; imageSize?: number; batchSize?: number; logits?: boolean }
): Promise<Prediction[]> {
  const imageSize = options.imageSize ?? trained.imageSize ?? 224;
  const batchSize = options.batchSize ?? 16;
  const predictions: Prediction[] = [];
  for (let start = 0; start < files.length; start += batchSize) {
    const chunk = files.slice(start, start + batchSize);
    const pixels = await Promise.all(
      chunk.map((file) =>
        transformImage(file.bytes, { size: imageSize, ...EVAL_PIPELINE }).catch((error: unknown) => {
          throw new TrainedModelError(`${file.name}: ${error instanceof Error ? error.message : String(error)}`);
        })
      )
    );
    const images = new Float32Array(chunk.length * imageSize * imageSize * 3);
    pixels.forEach((values, index) => images.set(values, index * values.length));
    predictLogits(trained.model, images, chunk.length, imageSize).forEach((logits, index) => {
      const probabilities = softmax(logits);
      const ranked = [...probabilities.keys()]
        .sort((a, b) => probabilities[b]! - probabilities[a]! || a - b)
        .slice(0, options.topK);
      predictions.push({
        file: chunk[index]!.name,
        top: ranked.map((classIndex) => ({
          label: trained.labels[classIndex]!,
          index: classIndex,
          probability: probabilities[classIndex]!
        })),
        ...(options.logits === true ? { logits: [...logits] } : {})
      });
    });
  }
  return predictions;
}
