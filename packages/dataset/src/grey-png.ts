import { crc32, deflateSync } from 'node:zlib';

/**
 * A greyscale 8-bit PNG of `pixels` (row-major, one byte each), encoded with node:zlib alone: for datasets
 * made on the fly (the demo's digits, tests), where a whole image library would be one more thing to load.
 */
export function encodeGreyscalePng(pixels: Uint8Array, width: number, height: number): Buffer {
  if (pixels.length !== width * height)
    throw new RangeError(`${width}×${height} pixels need ${width * height} bytes, got ${pixels.length}`);
  const chunk = (type: string, data: Buffer): Buffer => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(data.length);
    const tail = Buffer.alloc(4);
    tail.writeUInt32BE(crc32(body));
    return Buffer.concat([head, body, tail]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 0, 0, 0, 0], 8); // bit depth 8, colour type 0 (grey), default compression, filter, no interlace
  // Each row starts with its filter type byte: 0, none.
  const rows = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; y += 1) rows.set(pixels.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([
    signature,
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0))
  ]);
}
