import { checkCropPlan, type CropPlanner } from './crop-planner.js';
import type { Triple } from './loader.js';
import { sniffImageFormat } from './prepare-image.js';

export interface ImageTransformOptions {
  /** Output side in pixels (square). */
  size: number;
  planner: CropPlanner;
  mean: Triple;
  std: Triple;
  /** Source of the planner's randomness; eval planners ignore it. */
  random?: () => number;
}

/** The image is not a JPEG, PNG or WebP, or libvips could not decode it. */
export class ImageDecodeError extends Error {
  override readonly name = 'ImageDecodeError';
}

/**
 * One image through exactly the loader's decode → crop → resize → normalise path, for prediction on files that
 * were never ingested: size·size·3 HWC floats.
 */
export async function transformImage(bytes: Uint8Array, options: ImageTransformOptions): Promise<Float32Array> {
  if (sniffImageFormat(bytes) === undefined)
    throw new ImageDecodeError('not a JPEG, PNG or WebP image (by its content)');
  // Loaded on first use: the loader decodes in its own threads, so a process that only trains (a worker) or
  // only plans never loads libvips in its main thread.
  const [{ default: sharp }, { transform }] = await Promise.all([import('sharp'), import('./transform-worker.js')]);
  let width: number;
  let height: number;
  try {
    ({ width, height } = await sharp(bytes).metadata());
  } catch (error) {
    throw new ImageDecodeError(
      `cannot read the image header: ${error instanceof Error ? error.message : String(error)}`
    );
  }
  const plan = options.planner(width, height, options.random ?? Math.random, options.size);
  checkCropPlan(plan, width, height, options.size);
  const output = new SharedArrayBuffer(options.size * options.size * 3 * 4);
  const result = await transform({
    bytes,
    plan,
    size: options.size,
    mean: options.mean,
    std: options.std,
    output,
    offset: 0
  });
  if ('error' in result) throw new ImageDecodeError(result.error);
  return new Float32Array(output);
}
