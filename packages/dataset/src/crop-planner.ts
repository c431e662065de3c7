/**
 * Crop geometry is decided by the model package (its torchvision-identical RandomResizedCrop / Resize +
 * CenterCrop); the loader only executes it. Plans are in integer pixels.
 */

/** Crop this box of source pixels, then resize it to size×size (RandomResizedCrop's order), optionally flipped. */
export type CropBox = { left: number; top: number; width: number; height: number; flip: boolean };

/**
 * Resize the whole image to resizeWidth×resizeHeight with Pillow's bilinear filter, then keep the size×size
 * window at (left, top): torchvision's eval transform, Resize(shorter side) + CenterCrop(size), as the model
 * package's `planEvalResize` plans it.
 */
export type ResizeCrop = { resizeWidth: number; resizeHeight: number; left: number; top: number; size: number };

export type CropPlan = CropBox | ResizeCrop;

/**
 * Decides a crop from the stored image's size, a per-sample seeded uniform [0, 1) source and the output side
 * in pixels (the loader's imageSize).
 */
export type CropPlanner = (sourceWidth: number, sourceHeight: number, random: () => number, size: number) => CropPlan;

export function isResizeCrop(plan: CropPlan): plan is ResizeCrop {
  return 'resizeWidth' in plan;
}

/** The largest centred square, unflipped: a stand-in for this package's tests (runs inject the model's planners). */
export const centerCropPlanner: CropPlanner = (width, height) => {
  const side = Math.min(width, height);
  return {
    left: Math.floor((width - side) / 2),
    top: Math.floor((height - side) / 2),
    width: side,
    height: side,
    flip: false
  };
};

/** Throws a RangeError unless the plan is whole pixels inside the width×height image, producing size×size. */
export function checkCropPlan(plan: CropPlan, width: number, height: number, size: number): void {
  if (isResizeCrop(plan)) {
    const integers = [plan.resizeWidth, plan.resizeHeight, plan.left, plan.top, plan.size].every(Number.isInteger);
    if (
      !integers ||
      plan.size !== size ||
      plan.left < 0 ||
      plan.top < 0 ||
      plan.left + size > plan.resizeWidth ||
      plan.top + size > plan.resizeHeight
    ) {
      throw new RangeError(
        `crop planner returned ${JSON.stringify(plan)}, not a ${size}x${size} window of the resized ${width}x${height} image`
      );
    }
    return;
  }
  const integers = [plan.left, plan.top, plan.width, plan.height].every(Number.isInteger);
  if (
    !integers ||
    plan.left < 0 ||
    plan.top < 0 ||
    plan.width < 1 ||
    plan.height < 1 ||
    plan.left + plan.width > width ||
    plan.top + plan.height > height
  ) {
    throw new RangeError(`crop planner returned ${JSON.stringify(plan)}, outside the ${width}x${height} image`);
  }
}
