import sharp from 'sharp';
import type { CropBox } from './crop-planner.js';

export type TransformTask = {
  bytes: Uint8Array;
  box: CropBox;
  /** Output side in pixels (square). */
  size: number;
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
  /**
   * Where to write the size·size·3 floats: the batch's shared memory, at this float offset. Writing in place
   * spares a 600 KB allocation, a transfer and a copy per 224² image, which the loader's main thread otherwise
   * spends most of its time collecting as garbage.
   */
  output: SharedArrayBuffer;
  offset: number;
};

/** Whether the pixels were written, or why the image could not be decoded. */
export type TransformResult = { ok: true } | { error: string };

// One libvips thread per task: parallelism comes from the pool's worker threads, and letting every worker's
// libvips also spawn a thread per core oversubscribes the CPU.
sharp.concurrency(1);
// Every image is decoded once per epoch: libvips' operation cache would only hold memory.
sharp.cache(false);

/**
 * Decode → crop → resize (bilinear, like torchvision's default) → optional horizontal flip → sRGB →
 * normalise, written as HWC float32 straight into its slot of an NHWC batch. Runs on a piscina worker thread.
 * A corrupt image comes back as `{ error }` so that the loader can count and skip it.
 */
export async function transform(task: TransformTask): Promise<TransformResult> {
  try {
    let pipeline = sharp(task.bytes, { failOn: 'error' })
      .extract({ left: task.box.left, top: task.box.top, width: task.box.width, height: task.box.height })
      .resize(task.size, task.size, { fit: 'fill', kernel: 'linear' });
    if (task.box.flip) pipeline = pipeline.flop();
    const { data, info } = await pipeline.removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || info.width !== task.size || info.height !== task.size) {
      return { error: `decoded to ${info.width}x${info.height}x${info.channels}, expected ${task.size}x${task.size}x3` };
    }
    const pixels = new Float32Array(task.output, task.offset * 4, data.length);
    const [m0, m1, m2] = task.mean;
    const scale0 = 1 / (255 * task.std[0]);
    const scale1 = 1 / (255 * task.std[1]);
    const scale2 = 1 / (255 * task.std[2]);
    const shift0 = m0 / task.std[0];
    const shift1 = m1 / task.std[1];
    const shift2 = m2 / task.std[2];
    for (let i = 0; i < data.length; i += 3) {
      pixels[i] = data[i]! * scale0 - shift0;
      pixels[i + 1] = data[i + 1]! * scale1 - shift1;
      pixels[i + 2] = data[i + 2]! * scale2 - shift2;
    }
    return { ok: true };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

export default transform;
