import type { Command } from 'commander';

/** `ringtrain predict --model … <images…>`: the most probable classes of new images. */
export function registerPredictCommand(program: Command): void {
  program
    .command('predict')
    .description('classify images (JPEG, PNG, WebP) with a trained model: the top classes and their probabilities')
    .usage('--model <uri> <images...>  |  <run> <images...>')
    .argument('<inputs...>', "image files or directories of images; without --model the first is the run's output")
    .option('--model <uri>', "the model: a run's output, its model/ directory or a .safetensors file")
    .option('--top <k>', 'classes to show per image', '3')
    .option('--logits', "also print every class's raw logit")
    .option('--image-size <px>', 'image side in pixels (default: the size the model was trained at)')
    .option('--backend <name>', 'compute backend: auto, tensorflow, wasm or cpu', 'auto')
    .option('--json', 'print one JSON object per image on stdout')
    .action(async (inputs: string[], raw: Record<string, unknown>) => {
      const { runPredict } = await import('./run.js');
      await runPredict(inputs, raw);
    });
}
