import type { Command } from 'commander';
import { z } from 'zod';

/**
 * The flags of the benchmarks that time training steps (`bench train`, `bench scaling`): how big a step is, how
 * many are timed after how many untimed ones, on which backend and with how many compute threads. Declared once
 * so both benchmarks accept the same ranges; each passes its own defaults and the help its measurement needs.
 */
export const stepFlagsSchema = {
  backend: z.enum(['auto', 'tensorflow', 'wasm', 'cpu']).default('auto'),
  batchSize: z.coerce.number().int().min(1),
  steps: z.coerce.number().int().min(1),
  warmupSteps: z.coerce.number().int().min(0),
  computeThreads: z.coerce.number().int().min(1).optional(),
  json: z.boolean().optional()
};

export interface StepFlagDefaults {
  batchSize: string;
  steps: string;
  warmupSteps: string;
  /** `--backend`'s help: where its default comes from. */
  backendHelp: string;
  /** `--compute-threads`' help: how many threads a rank gets without it. */
  computeThreadsHelp: string;
}

export function addStepFlags(command: Command, defaults: StepFlagDefaults): Command {
  return command
    .option('--backend <name>', defaults.backendHelp)
    .option('--batch-size <n>', 'images per rank per step', defaults.batchSize)
    .option('--steps <n>', 'timed steps', defaults.steps)
    .option('--warmup-steps <n>', 'untimed steps before the clock starts', defaults.warmupSteps)
    .option('--compute-threads <n>', defaults.computeThreadsHelp)
    .option('--json', 'print one JSON object on stdout');
}
