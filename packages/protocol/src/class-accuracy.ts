/**
 * Validation by class, as both sides of the contract read it: a worker's evaluation (`ringtrain eval`) and the
 * coordinator's books (the dashboard, metrics.json) compute per-class accuracy the same way from the same
 * row-major confusion matrix that an EpochReport carries.
 */

export interface ClassAccuracy {
  className: string;
  /** Validation images of this class predicted as it. */
  correct: number;
  /** Validation images of this class. */
  total: number;
  /** correct ÷ total, or null when the validation split holds no image of the class. */
  accuracy: number | null;
}

/** The validation of one epoch by class: what the model confuses with what. */
export interface ValidationByClass {
  epoch: number;
  classes: string[];
  /** confusion[t][p]: validation images of true class t predicted as class p (summed over every rank). */
  confusion: number[][];
  perClass: ClassAccuracy[];
}

/** Cuts a row-major n × n matrix into rows; throws when the length is not a square. */
export function confusionRows(flat: readonly number[], classCount: number): number[][] {
  if (flat.length !== classCount * classCount)
    throw new Error(
      `a confusion matrix of ${classCount} classes has ${classCount * classCount} cells, got ${flat.length}`
    );
  return Array.from({ length: classCount }, (_, row) => flat.slice(row * classCount, (row + 1) * classCount));
}

/** Per-class accuracy (recall) from a confusion matrix whose rows are the true classes. */
export function perClassAccuracy(
  confusion: readonly (readonly number[])[],
  classes: readonly string[]
): ClassAccuracy[] {
  return classes.map((className, index) => {
    const row = confusion[index] ?? [];
    const total = row.reduce((sum, cell) => sum + cell, 0);
    const correct = row[index] ?? 0;
    return { className, correct, total, accuracy: total > 0 ? correct / total : null };
  });
}
