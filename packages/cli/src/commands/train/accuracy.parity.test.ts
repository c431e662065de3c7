import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { ingest } from '@ringtrain/dataset';
import { runCli } from '../../run-cli.test-helper.js';
import { writeMnistImageFolder } from './demo-data.js';

/**
 * The crash course's recipe reaches PyTorch's accuracy (issue 14): torchvision's resnet18, pretrained by PyTorch
 * on one dataset (drawn shapes), is fine-tuned on another (900 handwritten digits from the mnist package, 28 px
 * upscaled to 32, no augmentation) with a new final layer, cross-entropy, Adam at lr 0.001, global batch 64 and 5
 * epochs, by Ringtrain and by PyTorch (scripts/parity/finetune-accuracy.py, Debian's torch), and both models are
 * measured on 1,000 other digits. For full fine-tuning and for a frozen backbone, with 1 worker × 64 and with
 * 2 workers × 32, Ringtrain's test accuracy over 3 seeds must not fall more than 2 points below PyTorch's.
 *
 * - PyTorch trains on the same batches: `drop_last=True`, since Ringtrain's default drops an epoch's last batch
 *   when it holds under half the global batch (900 = 14 × 64 + 4), and against 2 workers DDP's split (each
 *   rank's 32 through batch norm by itself, gradients averaged, rank 0's running statistics kept). PyTorch
 *   keeping the batch of 4 (its DataLoader's default) scores lower; docs/benchmarks.md has both.
 * - Medians, not means, and one-sided. Full fine-tuning with Adam sometimes ends a run in a loss spike of its
 *   last epoch (seen on both sides: PyTorch 87.8% among 92–93%, Ringtrain 84–86% among 91–94%), which moves a
 *   3-seed mean by 3 points while the other seeds agree; the median of 3 ignores one such run. Ringtrain above
 *   PyTorch is not a defect, and seed noise alone would break a bound from above.
 *
 * PyTorch's side and the pretrained weights are cached under .cache/parity/, keyed by the script and arguments.
 */
const ROOT = fileURLToPath(new URL('../../../../../', import.meta.url));
const SCRIPTS = path.join(ROOT, 'scripts/parity');
const SCRIPT = path.join(SCRIPTS, 'finetune-accuracy.py');
const SEEDS = [1, 2, 3];
const POINTS = 0.02;
const slow = process.env.RINGTRAIN_SKIP_SLOW_TESTS === '1';
const run = promisify(execFile);

/** Runs the PyTorch script once per distinct (script, arguments); returns its JSON line. */
async function pytorch(args: readonly string[], inputsKey = ''): Promise<Record<string, unknown>> {
  const script = await readFile(SCRIPT);
  const key = createHash('sha256')
    .update(script)
    .update(await readFile(path.join(SCRIPTS, 'fixture_io.py')))
    .update(args.join(' '))
    .update(inputsKey)
    .digest('hex')
    .slice(0, 16);
  const cached = path.join(ROOT, '.cache/parity', `finetune-accuracy-${key}.json`);
  if (existsSync(cached)) return JSON.parse(await readFile(cached, 'utf8')) as Record<string, unknown>;
  let stdout: string;
  try {
    ({ stdout } = await run('/usr/bin/python3', [SCRIPT, ...args], { cwd: SCRIPTS, maxBuffer: 1 << 20 }));
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? String(error);
    throw new Error(
      `the PyTorch reference could not run (${stderr.trim().split('\n').at(-1)}); install it with scripts/install-python-reference.sh`
    );
  }
  await mkdir(path.dirname(cached), { recursive: true });
  await writeFile(cached, stdout);
  return JSON.parse(stdout) as Record<string, unknown>;
}

async function ringtrain(argv: readonly string[]): Promise<Record<string, unknown>> {
  const { code, stdout, stderr } = await runCli([...argv, '--json']);
  assert.equal(code, 0, `ringtrain ${argv[0]} failed:\n${stderr.slice(-2000)}`);
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as Record<string, unknown>;
}

const mean = (values: readonly number[]): number => values.reduce((sum, value) => sum + value, 0) / values.length;
const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const percent = (values: readonly number[]): string => values.map((value) => (value * 100).toFixed(1)).join(', ');

describe('fine-tuning accuracy against PyTorch', () => {
  it(
    "[slow] full fine-tuning and a frozen backbone, 1 and 2 workers: median test accuracy over 3 seeds at most 2 points below PyTorch's",
    { skip: slow, timeout: 45 * 60_000 },
    async (t) => {
      const work = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-accuracy-'));
      const pretrainedDir = path.join(ROOT, '.cache/parity');
      // The digits at a fixed place (rewritten every run, the same files): PyTorch's results are cached by arguments.
      const digits = path.join(pretrainedDir, 'finetune-accuracy-digits');
      await rm(digits, { recursive: true, force: true });
      await mkdir(digits, { recursive: true });
      try {
        const train = path.join(digits, 'train');
        const testImages = path.join(digits, 'test');
        await writeMnistImageFolder(train, 90, 0);
        await writeMnistImageFolder(testImages, 100, 500);
        const dataset = path.join(work, 'dataset');
        await ingest({ source: train, to: dataset, valFraction: 0, seed: 0 });

        const pretrainArgs = ['--image-size', '32', '--images-per-class', '300', '--epochs', '3', '--seed', '0'];
        const pretrainKey = createHash('sha256')
          .update(await readFile(SCRIPT))
          .update(pretrainArgs.join(' '))
          .digest('hex')
          .slice(0, 16);
        const pretrained = path.join(pretrainedDir, `shapes-resnet18-${pretrainKey}.safetensors`);
        if (!existsSync(pretrained))
          await pytorch(['pretrain', '--out', pretrained, ...pretrainArgs, '--threads', '2'], pretrainKey);

        const rows: string[] = [];
        for (const freezeBackbone of [false, true]) {
          const mode = freezeBackbone ? 'frozen backbone' : 'full fine-tuning';
          const freeze = freezeBackbone ? ['--freeze-backbone'] : [];
          for (const workers of [1, 2]) {
            // PyTorch's side: one process with the global batch, or DDP's split of it among the same ranks.
            const references: number[] = [];
            for (let i = 0; i < SEEDS.length; i += 2) {
              // two single-threaded runs at a time: this machine has two cores
              const pair = SEEDS.slice(i, i + 2).map((seed) =>
                pytorch(
                  [
                    'finetune',
                    '--pretrained',
                    pretrained,
                    '--train',
                    train,
                    '--test',
                    testImages,
                    '--seed',
                    String(seed),
                    '--drop-last',
                    '--ranks',
                    String(workers),
                    ...freeze
                  ],
                  pretrainKey
                )
              );
              for (const result of await Promise.all(pair)) references.push(result.testAccuracy as number);
            }
            const accuracies: number[] = [];
            for (const seed of SEEDS) {
              const out = path.join(work, `run-${workers}-${seed}-${freezeBackbone}`);
              await ringtrain([
                'train',
                '--data',
                dataset,
                '--pretrained',
                pretrained,
                '--workers',
                String(workers),
                '--batch-size',
                String(64 / workers),
                '--epochs',
                '5',
                '--image-size',
                '32',
                '--seed',
                String(seed),
                '--out',
                out,
                ...freeze
              ]);
              const evaluation = await ringtrain(['eval', '--model', path.join(out, 'model'), '--data', testImages]);
              accuracies.push(evaluation.accuracy as number);
              await rm(out, { recursive: true, force: true });
            }
            const [ours, reference] = [median(accuracies), median(references)];
            rows.push(
              `${mode}, ${workers} worker(s) × ${64 / workers}: Ringtrain ${percent(accuracies)} (median ${percent([ours])}, mean ${percent([mean(accuracies)])}); ` +
                `PyTorch ${percent(references)} (median ${percent([reference])}, mean ${percent([mean(references)])})`
            );
            t.diagnostic(rows.at(-1) ?? '');
            assert.ok(
              ours >= reference - POINTS,
              `${mode} with ${workers} worker(s): Ringtrain's median test accuracy ${percent([ours])}% is more than 2 points below PyTorch's ${percent([reference])}%\n${rows.join('\n')}`
            );
          }
        }
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    }
  );
});
