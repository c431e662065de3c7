import type { Command } from 'commander';

/** `ringtrain eval [run] --model … --data …`: accuracy, loss and the confusion matrix of a trained model. */
export function registerEvalCommand(program: Command): void {
  program
    .command('eval')
    .description(
      'measure a trained model on a dataset: top-1 and top-5 accuracy, loss, per-class accuracy, confusion matrix'
    )
    .argument('[run]', "a run's output (runs/demo, s3://bucket/run): its model, evaluated on its own dataset")
    .option(
      '--model <uri>',
      "the model: a run's output, its model/ directory or a .safetensors file (instead of [run])"
    )
    .option(
      '--data <dir|uri>',
      "an ImageFolder directory, or a dataset URI holding manifest.json (default: the run's own dataset)"
    )
    .option(
      '--split <name>',
      'split of a dataset URI: train or val (an ImageFolder directory is evaluated whole)',
      'val'
    )
    .option('--batch-size <n>', 'images per forward pass', '32')
    .option('--image-size <px>', 'image side in pixels (default: the size the model was trained at)')
    .option('--backend <name>', 'compute backend: auto, tensorflow, wasm or cpu', 'auto')
    .option('--threads <n>', 'image decode threads (default: one per core)')
    .option('--out <file>', 'also write the full report as JSON to this file')
    .option('--json', 'print the report as one JSON object on stdout')
    .action(async (run: string | undefined, raw: Record<string, unknown>) => {
      const { runEval } = await import('./run.js');
      await runEval(run, raw);
    });
}
