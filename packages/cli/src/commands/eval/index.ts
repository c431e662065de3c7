import type { Command } from 'commander';

/** `ringtrain eval <model>`: accuracy, loss and the confusion matrix of a trained model on a dataset split. */
export function registerEvalCommand(program: Command): void {
  program
    .command('eval')
    .description("measure a trained model on a dataset split: accuracy, loss, per-class accuracy and the confusion matrix")
    .argument('<model>', "a run's output (runs/demo, s3://bucket/run) or its model/ directory")
    .option('--data <uri>', "dataset URI holding manifest.json (default: the run's own dataset, from its run.json)")
    .option('--split <name>', 'train or val', 'val')
    .option('--batch-size <n>', 'images per forward pass', '32')
    .option('--image-size <px>', 'image side in pixels (default: the size the model was trained at)')
    .option('--backend <name>', 'compute backend: auto, tensorflow, wasm or cpu', 'auto')
    .option('--threads <n>', 'image decode threads (default: one per core)')
    .option('--out <file>', 'also write the full report as JSON to this file')
    .option('--json', 'print the report as one JSON object on stdout')
    .action(async (model: string, raw: Record<string, unknown>) => {
      const { runEval } = await import('./run.js');
      await runEval(model, raw);
    });
}
