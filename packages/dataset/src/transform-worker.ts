import sharp from 'sharp';
import { isResizeCrop, type CropBox, type CropPlan, type ResizeCrop } from './crop-planner.js';
import { resizeBilinearWindow } from './pil-bilinear.js';

export type TransformTask = {
  bytes: Uint8Array;
  plan: CropPlan;
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
 * Decode → crop → resize → optional horizontal flip → sRGB → normalise, written as HWC float32 straight into
 * its slot of an NHWC batch. Runs on a piscina worker thread. A crop box is cut and resized by libvips
 * (bilinear, like torchvision's default); a resize-then-crop plan (the eval transform) is resized with
 * Pillow's exact bilinear filter (`pil-bilinear.ts`), so its pixels are torchvision's. A corrupt image comes
 * back as `{ error }` so that the loader can count and skip it.
 */
export async function transform(task: TransformTask): Promise<TransformResult> {
  try {
    const data = isResizeCrop(task.plan)
      ? await resizeCrop(task.bytes, task.plan)
      : await cropResize(task.bytes, task.plan, task.size);
    if (typeof data === 'string') return { error: data };
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

/** The box cut from the decoded image and resized to size×size by libvips; the pixels, or why not. */
async function cropResize(bytes: Uint8Array, box: CropBox, size: number): Promise<Uint8Array | string> {
  let pipeline = sharp(bytes, { failOn: 'error' })
    .extract({ left: box.left, top: box.top, width: box.width, height: box.height })
    .resize(size, size, { fit: 'fill', kernel: 'linear' });
  if (box.flip) pipeline = pipeline.flop();
  const { data, info } = await pipeline.removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3 || info.width !== size || info.height !== size) {
    return `decoded to ${info.width}x${info.height}x${info.channels}, expected ${size}x${size}x3`;
  }
  return data;
}

/**
 * The whole image decoded to 8-bit sRGB (as PIL's convert("RGB") gives it), then the plan's window of its
 * Pillow-bilinear resize; the pixels, or why not.
 */
async function resizeCrop(bytes: Uint8Array, plan: ResizeCrop): Promise<Uint8Array | string> {
  const { data, info } = await sharp(bytes, { failOn: 'error' })
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) return `decoded to ${info.channels} channels, expected 3`;
  const pixels = new Uint8Array(data.buffer, data.byteOffset, data.length);
  return resizeBilinearWindow(pixels, info.width, info.height, 3, { ...plan, width: plan.size, height: plan.size });
}

export default transform;
