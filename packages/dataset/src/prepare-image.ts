import { StoreError } from './store-error.js';

export type PreparedImage = { bytes: Buffer; width: number; height: number };
export type ImageProblem = { reason: string };

/** JPEG, PNG and WebP by their magic bytes: a file's name can lie, its first bytes cannot. */
export function sniffImageFormat(bytes: Uint8Array): 'jpeg' | 'png' | 'webp' | undefined {
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'png';
  const ascii = Buffer.from(bytes.subarray(0, 12)).toString('latin1');
  if (ascii.startsWith('RIFF') && ascii.slice(8, 12) === 'WEBP') return 'webp';
  return undefined;
}

/**
 * Reads (from a file or an object: `read` knows which) and fully decodes one source image, so truncated or
 * corrupt files are found at ingest rather than in the middle of a training epoch. Bytes are kept as they are
 * unless the longer side exceeds maxResolution; then the image is downscaled (aspect kept) and stored as JPEG
 * quality 90, as FFCV does, which makes every later decode cheaper.
 */
export async function prepareImage(
  read: () => Promise<Buffer>,
  maxResolution: number | undefined
): Promise<PreparedImage | ImageProblem> {
  let bytes: Buffer;
  try {
    bytes = await read();
  } catch (error) {
    // A store that is down, or refuses us, says nothing about this image: listing it as corrupt would quietly
    // leave it out of the dataset, so the ingest fails (and resumes when run again). The store has retried.
    if (error instanceof StoreError && error.code !== 'not-found') throw error;
    return { reason: `unreadable: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (!sniffImageFormat(bytes)) return { reason: 'not a JPEG, PNG or WebP file (by its content)' };
  // Loaded on first use, so that processes that never ingest (a worker) do not load libvips for it.
  const { default: sharp } = await import('sharp');
  try {
    // failOn 'warning' makes libvips reject truncated data that a header read would accept; either branch below
    // decodes every pixel once, which is what finds corrupt files.
    const header = await sharp(bytes).metadata();
    const longer = Math.max(header.width ?? 0, header.height ?? 0);
    if (maxResolution === undefined || longer <= maxResolution) {
      const { info } = await sharp(bytes, { failOn: 'warning' }).raw().toBuffer({ resolveWithObject: true });
      return { bytes, width: info.width, height: info.height };
    }
    const resized = await sharp(bytes, { failOn: 'warning' })
      .resize({ width: maxResolution, height: maxResolution, fit: 'inside', kernel: 'lanczos3' })
      .jpeg({ quality: 90 })
      .toBuffer({ resolveWithObject: true });
    return { bytes: resized.data, width: resized.info.width, height: resized.info.height };
  } catch (error) {
    return { reason: `corrupt: ${decodeFailure(error)}` };
  }
}

/**
 * sharp's own words for a failed decode ("Input buffer has corrupt header"), without the detail libvips appends
 * after a colon: that detail comes from a per-thread error buffer and differs from one decode of the same file to
 * the next, and the reason is written into manifest.json, which must come out the same on every run.
 */
export function decodeFailure(error: unknown): string {
  const message = (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
  return message.split(/:\s/)[0]!.replace(/:$/, '').trim() || 'undecodable';
}
