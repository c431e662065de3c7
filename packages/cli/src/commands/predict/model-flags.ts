import { z } from 'zod';
import type { TrainedModel } from '@ringtrain/worker';
import { UsageError } from '../../errors.js';

/** `--backend` of the commands that run a trained model. */
export const backendFlag = z.enum(['auto', 'tensorflow', 'wasm', 'cpu']);

/** The model named by the positional argument or by --model: exactly one of them. */
export function chooseModel(positional: string | undefined, flag: string | undefined): string {
  if (positional !== undefined && flag !== undefined)
    throw new UsageError(`give the model once: either as an argument (${positional}) or with --model (${flag})`);
  const model = flag ?? positional;
  if (model === undefined)
    throw new UsageError(
      "no model: give a run's output as an argument, or --model <run, model directory or .safetensors file>"
    );
  return model;
}

/** Starts the compute backend, then opens the trained model; a missing or mismatched model is a usage error. */
export async function openTrainedModel(uri: string, backend: z.output<typeof backendFlag>): Promise<TrainedModel> {
  const { initBackend } = await import('@ringtrain/model');
  const { loadTrainedModel, TrainedModelError } = await import('@ringtrain/worker');
  await initBackend({ requested: backend, log: (line) => void process.stderr.write(`${line}\n`) });
  try {
    return await loadTrainedModel(uri);
  } catch (error) {
    if (error instanceof TrainedModelError) throw new UsageError(error.message);
    throw error;
  }
}
