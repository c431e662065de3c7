import { z } from 'zod';

/** Where the best model by validation accuracy is exported, beside the last one's `model/`. */
export const BEST_MODEL_DIR = 'model-best';
/** The checkpoint's `extra` key of the best-model books (the data cursor is `cursor`). */
export const BEST_MODEL_EXTRA_KEY = 'bestModel';

const ValidationRecordSchema = z
  .object({
    /** 0-based, as the cursor counts epochs. */
    epoch: z.number().int().min(0),
    globalStep: z.number().int().min(0),
    valAccuracy: z.number().min(0).max(1),
    valLoss: z.number()
  })
  .strict();
export type ValidationRecord = z.output<typeof ValidationRecordSchema>;

/**
 * The books of the best model and of early stopping. They travel in every checkpoint, so a restarted generation
 * (and `--resume`) goes on counting where the last one stopped, and every rank holds the same books: rank 0's
 * checkpoint is broadcast to all, and each validation's sums are gathered from all ranks before anyone looks.
 */
export const BestModelStateSchema = z
  .object({
    best: ValidationRecordSchema.optional(),
    /** Completed epochs since `best` whose validation accuracy was not above it. */
    epochsWithoutImprovement: z.number().int().min(0)
  })
  .strict();
export type BestModelState = z.output<typeof BestModelStateSchema>;

export const INITIAL_BEST_MODEL_STATE: BestModelState = { epochsWithoutImprovement: 0 };

export interface ValidationObservation extends ValidationRecord {
  /**
   * False for a validation after a partial epoch (the run reached --max-steps mid-epoch, or was stopped): its
   * model can still be the best, but it is no epoch that failed to improve.
   */
  epochComplete: boolean;
}

/**
 * One validation's effect on the books: the model is the new best when its accuracy is strictly above the best
 * so far (a tie keeps the earlier, as Keras' and Lightning's checkpoints do); otherwise a complete epoch counts
 * towards the patience.
 */
export function observeValidation(
  state: BestModelState,
  observation: ValidationObservation
): { state: BestModelState; improved: boolean } {
  const { epochComplete, ...record } = observation;
  if (state.best === undefined || record.valAccuracy > state.best.valAccuracy)
    return { state: { best: record, epochsWithoutImprovement: 0 }, improved: true };
  return {
    state: { ...state, epochsWithoutImprovement: state.epochsWithoutImprovement + (epochComplete ? 1 : 0) },
    improved: false
  };
}

/**
 * Why the run ends early, once `patience` complete epochs in a row did not improve on the best validation
 * accuracy; undefined while it should go on, and always without a patience (early stopping off).
 */
export function earlyStopReason(state: BestModelState, patience: number | undefined): string | undefined {
  if (patience === undefined || state.best === undefined || state.epochsWithoutImprovement < patience) return undefined;
  const epochs = state.epochsWithoutImprovement === 1 ? 'epoch' : 'epochs';
  return (
    `early stopping: validation accuracy did not improve for ${state.epochsWithoutImprovement} ${epochs} ` +
    `(patience ${patience}); the best, ${(state.best.valAccuracy * 100).toFixed(2)}% after epoch ${state.best.epoch + 1}, ` +
    `is in ${BEST_MODEL_DIR}/`
  );
}

/** The books a checkpoint carries; a checkpoint written before they existed starts them afresh. */
export function bestModelStateFrom(extra: Readonly<Record<string, string>>): BestModelState {
  const json = extra[BEST_MODEL_EXTRA_KEY];
  if (json === undefined) return INITIAL_BEST_MODEL_STATE;
  const parsed = BestModelStateSchema.safeParse(JSON.parse(json));
  if (!parsed.success)
    throw new Error(`the checkpoint's best-model books are not valid: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}
