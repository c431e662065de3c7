import type { Command } from 'commander';

/** `ringtrain predict <model> <images...>`: the most probable classes of new images. */
export function registerPredictCommand(program: Command): void {
  program
    .command('predict')
    .description('classify images (JPEG, PNG, WebP) with a trained model: the top classes and their probabilities')
    .argument('<model>', "a run's output (runs/demo, s3://bucket/run) or its model/ directory")
    .argument('<images...>', 'image files, or directories whose images are all classified')
    .option('--top-k <k>', 'classes to show per image', '3')
    .option('--image-size <px>', 'image side in pixels (default: the size the model was trained at)')
    .option('--backend <name>', 'compute backend: auto, tensorflow, wasm or cpu', 'auto')
    .option('--json', 'print one JSON object per image on stdout')
    .action(async (model: string, images: string[], raw: Record<string, unknown>) => {
      const { runPredict } = await import('./run.js');
      await runPredict(model, images, raw);
    });
}
