import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { resizeBilinearWindow } from './pil-bilinear.js';

/** A 7×5 RGB image whose channels are distinct formulas of (x, y), as the Pillow outputs below were made from. */
const WIDTH = 7;
const HEIGHT = 5;
const image = Uint8Array.from({ length: WIDTH * HEIGHT * 3 }, (_, i) => {
  const pixel = Math.floor(i / 3);
  const [x, y, c] = [pixel % WIDTH, Math.floor(pixel / WIDTH), i % 3];
  return [(x * 37 + y * 11) % 256, (x * x * 5 + y * 23) % 256, (((255 - x * 30 - y * 9) % 256) + 256) % 256][c]!;
});

const full = (
  source: Uint8Array,
  width: number,
  height: number,
  resizeWidth: number,
  resizeHeight: number
): Uint8Array =>
  resizeBilinearWindow(source, width, height, 3, {
    resizeWidth,
    resizeHeight,
    left: 0,
    top: 0,
    width: resizeWidth,
    height: resizeHeight
  });

describe("Pillow's bilinear resize", () => {
  it('gives the bytes Pillow 9.4 gives: down in both axes, up in both, and with one axis unchanged', () => {
    // np.asarray(Image.fromarray(image).resize(size, Image.BILINEAR)).flatten(), with Debian's python3-pil 9.4.
    const pillow: [number, number, number[]][] = [
      [3, 2, [43, 29, 220, 122, 73, 156, 201, 158, 92, 65, 75, 202, 144, 119, 138, 194, 175, 74]],
      [
        10,
        4,
        [
          3, 6, 253, 23, 9, 237, 49, 15, 216, 75, 25, 194, 101, 42, 173, 127, 63, 153, 153, 88, 132, 179, 120, 111, 205,
          156, 89, 225, 186, 73, 16, 33, 242, 36, 36, 226, 62, 42, 205, 88, 52, 183, 114, 69, 162, 140, 90, 142, 166,
          115, 121, 192, 147, 100, 218, 183, 78, 238, 213, 62, 28, 59, 232, 48, 62, 216, 74, 68, 195, 100, 78, 173, 126,
          95, 152, 152, 116, 132, 178, 141, 111, 204, 173, 90, 230, 209, 68, 250, 239, 52, 41, 86, 221, 61, 89, 205, 87,
          95, 184, 113, 105, 162, 139, 122, 141, 165, 143, 121, 191, 168, 100, 217, 200, 79, 156, 150, 57, 71, 74, 41
        ]
      ],
      [
        7,
        9,
        [
          0, 0, 255, 37, 5, 225, 74, 20, 195, 111, 45, 165, 148, 80, 135, 185, 125, 105, 222, 180, 75, 4, 8, 252, 41,
          13, 222, 78, 28, 192, 115, 53, 162, 152, 88, 132, 189, 133, 102, 226, 188, 72, 10, 20, 247, 47, 25, 217, 84,
          40, 187, 121, 65, 157, 158, 100, 127, 195, 145, 97, 232, 200, 67, 16, 33, 242, 53, 38, 212, 90, 53, 182, 127,
          78, 152, 164, 113, 122, 201, 158, 92, 238, 213, 62, 22, 46, 237, 59, 51, 207, 96, 66, 177, 133, 91, 147, 170,
          126, 117, 207, 171, 87, 244, 226, 57, 28, 59, 232, 65, 64, 202, 102, 79, 172, 139, 104, 142, 176, 139, 112,
          213, 184, 82, 250, 239, 52, 34, 72, 227, 71, 77, 197, 108, 92, 167, 145, 117, 137, 182, 152, 107, 219, 197,
          77, 228, 223, 47, 40, 84, 222, 77, 89, 192, 114, 104, 162, 151, 129, 132, 188, 164, 102, 225, 209, 72, 92, 94,
          42, 44, 92, 219, 81, 97, 189, 118, 112, 159, 155, 137, 129, 192, 172, 99, 229, 217, 69, 10, 16, 39
        ]
      ],
      [
        2,
        5,
        [
          59, 20, 208, 163, 105, 122, 70, 43, 199, 174, 128, 113, 81, 66, 190, 185, 151, 104, 92, 89, 181, 196, 174, 95,
          103, 112, 172, 154, 143, 86
        ]
      ]
    ];
    for (const [width, height, expected] of pillow)
      assert.deepEqual([...full(image, WIDTH, HEIGHT, width, height)], expected, `${width}x${height}`);
  });

  it('leaves an image of the same size unchanged', () => {
    assert.deepEqual(full(image, WIDTH, HEIGHT, WIDTH, HEIGHT), image);
  });

  it('computes any window as the same window of the whole resize, and keeps a flat image flat', () => {
    const cases = fc
      .record({
        width: fc.integer({ min: 1, max: 24 }),
        height: fc.integer({ min: 1, max: 24 }),
        resizeWidth: fc.integer({ min: 1, max: 40 }),
        resizeHeight: fc.integer({ min: 1, max: 40 })
      })
      .chain((sizes) =>
        fc.record({
          sizes: fc.constant(sizes),
          pixels: fc.uint8Array({
            minLength: sizes.width * sizes.height * 3,
            maxLength: sizes.width * sizes.height * 3
          }),
          left: fc.integer({ min: 0, max: sizes.resizeWidth - 1 }),
          top: fc.integer({ min: 0, max: sizes.resizeHeight - 1 }),
          flat: fc.integer({ min: 0, max: 255 })
        })
      );
    fc.assert(
      fc.property(cases, ({ sizes, pixels, left, top, flat }) => {
        const { width, height, resizeWidth, resizeHeight } = sizes;
        const window = { resizeWidth, resizeHeight, left, top, width: resizeWidth - left, height: resizeHeight - top };
        const whole = full(pixels, width, height, resizeWidth, resizeHeight);
        const part = resizeBilinearWindow(pixels, width, height, 3, window);
        for (let y = 0; y < window.height; y++) {
          const from = ((y + top) * resizeWidth + left) * 3;
          assert.deepEqual(
            part.subarray(y * window.width * 3, (y + 1) * window.width * 3),
            whole.subarray(from, from + window.width * 3)
          );
        }
        const grey = full(new Uint8Array(width * height * 3).fill(flat), width, height, resizeWidth, resizeHeight);
        assert.ok(grey.every((value) => value === flat));
      }),
      { numRuns: 200 }
    );
  });

  it('refuses a window outside the resize and bytes that are not the stated image', () => {
    assert.throws(
      () =>
        resizeBilinearWindow(image, WIDTH, HEIGHT, 3, {
          resizeWidth: 4,
          resizeHeight: 4,
          left: 1,
          top: 0,
          width: 4,
          height: 4
        }),
      /outside the 4x4 resize/
    );
    assert.throws(
      () =>
        resizeBilinearWindow(image, WIDTH, HEIGHT + 1, 3, {
          resizeWidth: 4,
          resizeHeight: 4,
          left: 0,
          top: 0,
          width: 4,
          height: 4
        }),
      /not a 7x6x3 image/
    );
  });
});
