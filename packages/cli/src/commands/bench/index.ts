import type { Command } from 'commander';
import { allReduceBenchCommand } from './allreduce.js';
import { loaderBenchCommand } from './loader.js';
import { trainBenchCommand } from './train.js';
import { scalingBenchCommand } from '../train/scaling.js';

/**
 * `ringtrain bench …`: each benchmark prints one JSON object on stdout with --json. Subcommands register
 * here and import their implementation lazily.
 */
export function registerBenchCommands(program: Command): void {
  program
    .command('bench')
    .description('measure the collective, the training step, the loader and scaling; --json prints one object')
    .addCommand(allReduceBenchCommand())
    .addCommand(loaderBenchCommand())
    .addCommand(trainBenchCommand())
    .addCommand(scalingBenchCommand());
}
