import type { Command } from 'commander';
import { heartbeatTimeoutFlag } from '../../options.js';

/** `ringtrain train`: a whole distributed run on this machine (coordinator in process, N worker processes). */
export function registerTrainCommand(program: Command): void {
  program
    .command('train')
    .description(
      'fine-tune ResNet18 data-parallel on this machine: ingest, coordinator, N worker processes, ring all-reduce'
    )
    .option('--data <dir|uri>', 'ImageFolder directory (ingested into <out>/dataset), or an ingested dataset URI')
    .option('--demo', 'train on handwritten digits generated from the mnist package (no download)')
    .option('--workers <n>', 'worker processes (ranks)')
    .option('--epochs <n>', 'epochs to train')
    .option('--batch-size <n>', 'images per rank per step (global batch = workers × this)')
    .option('--image-size <px>', 'square input size')
    .option('--lr <rate>', 'learning rate (default: 1e-3 for adam, 1e-2 for sgd)')
    .option('--optimizer <name>', 'adam or sgd')
    .option('--momentum <m>', 'SGD momentum')
    .option('--micro-batch-size <n>', 'split each rank batch into micro-batches (memory)')
    .option('--pretrained <uri>', 'torchvision resnet18 weights (.safetensors) to start from; the head is replaced')
    .option('--freeze-backbone', 'train only the classifier head')
    .option(
      '--freeze-batch-norm',
      "with --freeze-backbone, also keep the backbone's batch norm in inference mode (default: train mode, as PyTorch's model.train())"
    )
    .option(
      '--augment',
      'random-resized-crop and horizontal flip for training images (without it they get the evaluation transform, Resize + CenterCrop)'
    )
    .option(
      '--out <dir>',
      'output directory: model/, checkpoints/, metrics.json, logs/ (default runs/train, runs/demo)'
    )
    .option('--resume', 'continue the run whose checkpoint is in --out')
    .option('--seed <n>', 'seed of initialisation, shuffling and augmentation')
    .option('--val-fraction <f>', 'fraction of each class held out for validation at ingest')
    .option('--checkpoint-every <steps>', 'checkpoint every this many steps (0: epoch ends only)')
    .option('--keep-checkpoints <n>', 'checkpoints kept')
    .option('--max-steps <n>', 'stop after this many optimizer steps in total')
    .option(
      '--early-stopping-patience <epochs>',
      'end the run once validation accuracy has not improved for this many epochs (default: off); either way the best model is kept in <out>/model-best'
    )
    .option(
      '--no-tensorboard',
      'write no TensorBoard event files (default: in <out>/tb, for tensorboard --logdir <out>/tb)'
    )
    .option('--partitions <n>', 'canonical data partitions, fixed for the run (default: workers)')
    .option(
      '--drop-last-batch-below <fraction>',
      "drop an epoch's last batch when it holds less than this fraction of the global batch (default: half; 0 keeps it, 1 is PyTorch's drop_last)"
    )
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
