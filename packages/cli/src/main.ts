import { Command, CommanderError } from 'commander';
import { ExitError, exitCodeFor } from './errors.js';
import { registerBenchCommands } from './commands/bench/index.js';
import { registerIngestCommand } from './commands/ingest/index.js';
import { registerDatasetServiceCommand } from './commands/dataset-service/index.js';
import { registerTrainCommand } from './commands/train/index.js';
import { registerWorkerCommand } from './commands/worker/index.js';
import { registerCoordinatorCommand } from './commands/coordinator/index.js';
import { registerReportCommand } from './commands/report/index.js';
import { registerEvalCommand } from './commands/eval/index.js';
import { registerPredictCommand } from './commands/predict/index.js';
import { registerOperatorCommand } from '@ringtrain/operator';

/** Declares every command; each loads its implementation lazily so `--help` stays instant. */
export function buildProgram(): Command {
  const program = new Command('ringtrain')
    .description('Data-parallel fine-tuning of image classifiers over a gRPC ring all-reduce')
    .showHelpAfterError()
    // A command's flags are read up to its subcommand only, so `operator render` has flags of the same names as
    // `operator` (commander needs this on every ancestor).
    .enablePositionalOptions()
    .exitOverride();
  registerBenchCommands(program);
  registerIngestCommand(program);
  registerDatasetServiceCommand(program);
  registerTrainCommand(program);
  registerReportCommand(program);
  registerPredictCommand(program);
  registerEvalCommand(program);
  registerWorkerCommand(program);
  registerCoordinatorCommand(program);
  registerOperatorCommand(program);
  return program;
}

/** Runs the CLI and returns the process exit code; only this function decides it. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    if (error instanceof ExitError) {
      process.stderr.write(`ringtrain: ${error.message}\n`);
      return error.exitCode;
    }
    // Classified errors print their message (in a pod, the last line becomes the termination message the
    // operator reports); an unexpected one prints its stack too, since it is most likely a bug.
    const code = exitCodeFor(error);
    const text =
      error instanceof Error
        ? code === 1
          ? (error.stack ?? error.message)
          : `${error.message}${causeOf(error)}`
        : String(error);
    process.stderr.write(`ringtrain: ${text}\n`);
    return code;
  }
}

function causeOf(error: Error): string {
  return error.cause instanceof Error && !error.message.includes(error.cause.message)
    ? ` (cause: ${error.cause.message})`
    : '';
}
