import type { Command } from 'commander';
import { DEFAULT_CHECKPOINT_EVERY_STEPS, DEFAULT_KEEP_CHECKPOINTS } from '@ringtrain/proto';
import { heartbeatTimeoutFlag } from '../../options.js';
import { addHyperparameterOptions } from './hyperparameter-flags.js';

/** `ringtrain train`: a whole distributed run on this machine (coordinator in process, N worker processes). */
export function registerTrainCommand(program: Command): void {
  const command = program
    .command('train')
    .description(
      'fine-tune ResNet18 data-parallel on this machine: ingest, coordinator, N worker processes, ring all-reduce'
    )
    .option('--data <dir|uri>', 'ImageFolder directory (ingested into <out>/dataset), or an ingested dataset URI')
    .option('--demo', 'train on handwritten digits generated from the mnist package (no download)')
    .option('--workers <n>', 'worker processes (ranks)');
  // The course's recipe, one flag per spec.hyperparameters field (--demo: 4 epochs, batch 16, 32 px).
  addHyperparameterOptions(command)
    .option('--pretrained <uri>', 'torchvision resnet18 weights (.safetensors) to start from; the head is replaced')
    .option('--freeze-backbone', 'train only the classifier head')
    .option(
      '--freeze-batch-norm',
      "with --freeze-backbone, also keep the backbone's batch norm in inference mode (default: train mode, as PyTorch's model.train())"
    )
    .option(
      '--out <dir>',
      'output directory: model/, checkpoints/, metrics.json, logs/ (default runs/train, runs/demo)'
    )
    .option('--resume', 'continue the run whose checkpoint is in --out')
    .option(
      '--unfreeze-after-epochs <n>',
      'with --freeze-backbone, train the whole network once this many epochs have passed'
    )
    .option(
      '--checkpoint-every <steps>',
      `checkpoint every this many steps, and at every epoch end (0: epoch ends only; default ${DEFAULT_CHECKPOINT_EVERY_STEPS})`
    )
    .option('--keep-checkpoints <n>', `checkpoints kept (default ${DEFAULT_KEEP_CHECKPOINTS})`)
    .option('--val-fraction <f>', 'fraction of each class held out for validation at ingest')
    .option('--max-steps <n>', 'stop after this many optimizer steps in total')
    .option(
      '--no-tensorboard',
      'write no TensorBoard event files (default: in <out>/tb, for tensorboard --logdir <out>/tb)'
    )
    .option('--partitions <n>', 'canonical data partitions, fixed for the run (default: workers)')
    .option('--max-restarts <n>', 'failed generations tolerated before the run fails')
    .option(heartbeatTimeoutFlag.flags, heartbeatTimeoutFlag.description)
    .option('--backend <name>', 'compute backend of the workers: auto, tensorflow, wasm or cpu')
    .option(
      '--compute-threads <n>',
      "TensorFlow's threads per worker (default: this machine's cores divided among the workers)"
    )
    .option(
      '--dry-run',
      'print the run plan and exit: ingests a folder given with --data (to count its images) but starts no coordinator or worker'
    )
    .option('--json', 'print the final result (with --dry-run: the plan) as one JSON object on stdout')
    .action(async (raw: Record<string, unknown>) => {
      const { runTrain } = await import('./run.js');
      await runTrain(raw);
    });
}
