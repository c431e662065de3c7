/**
 * Crop geometry is decided by the model package (its torchvision-identical RandomResizedCrop / Resize +
 * CenterCrop); the loader only executes it. A box is in integer source pixels.
 */
export type CropBox = { left: number; top: number; width: number; height: number; flip: boolean };

/** Decides a crop from the stored image's size and a per-sample seeded uniform [0, 1) source. */
export type CropPlanner = (sourceWidth: number, sourceHeight: number, random: () => number) => CropBox;

/** The largest centred square, unflipped. A stand-in for tests and benchmarks; training injects the model's. */
export const centerCropPlanner: CropPlanner = (width, height) => {
  const side = Math.min(width, height);
  return { left: Math.floor((width - side) / 2), top: Math.floor((height - side) / 2), width: side, height: side, flip: false };
};

export function checkCropBox(box: CropBox, width: number, height: number): void {
  const integers = [box.left, box.top, box.width, box.height].every(Number.isInteger);
  if (!integers || box.left < 0 || box.top < 0 || box.width < 1 || box.height < 1 || box.left + box.width > width || box.top + box.height > height) {
    throw new RangeError(`crop planner returned ${JSON.stringify(box)}, outside the ${width}x${height} image`);
  }
}
