import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import { fileURLToPath } from 'node:url';
import { ingest } from '@ringtrain/dataset';
import { writeMnistImageFolder } from './commands/train/demo-data.js';

/** The workers' backend in the CLI tests: the native one wherever npm ci built it (RINGTRAIN_BACKEND overrides). */
export const TEST_BACKEND = process.env.RINGTRAIN_BACKEND ?? 'auto';

/**
 * The `ringtrain train` arguments of a small run on a `digitsDataset`: 32×32 images, 2 workers of 16 images each
 * unless told, into `out`, on the test backend. A test appends the flags it is about.
 */
export function smallDigitsRun(
  dataset: string,
  out: string,
  { epochs, workers = 2, batchSize = 16 }: { epochs: number; workers?: number; batchSize?: number }
): string[] {
  const shape = ['--workers', String(workers), '--epochs', String(epochs), '--batch-size', String(batchSize)];
  return ['--data', dataset, ...shape, '--image-size', '32', '--out', out, '--backend', TEST_BACKEND];
}

/** The real `ringtrain` entry point, as users run it. */
export const ringtrainBin = fileURLToPath(new URL('../bin/ringtrain.mjs', import.meta.url));

/**
 * Runs `ringtrain <argv>` in a child process (the test runner owns this process's stdout), with this process's
 * environment unless `env` is given, and collects its output.
 */
export async function runCli(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [ringtrainBin, ...argv], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const [stdout, stderr, code] = await Promise.all([
    text(child.stdout),
    text(child.stderr),
    new Promise<number>((resolve) => child.once('close', (exit) => resolve(exit ?? 1)))
  ]);
  return { code, stdout, stderr };
}

/**
 * A temporary directory with the demo's handwritten digits as an ImageFolder (`digits/`, `perClass` images per
 * class) and that folder ingested as a dataset (`dataset/`), as the CLI tests train and evaluate on.
 */
export async function digitsDataset(
  prefix: string,
  perClass: number,
  valFraction: number,
  seed = 1
): Promise<{ work: string; digits: string; dataset: string }> {
  const work = await mkdtemp(path.join(os.tmpdir(), prefix));
  const digits = path.join(work, 'digits');
  const dataset = path.join(work, 'dataset');
  await writeMnistImageFolder(digits, perClass);
  await ingest({ source: digits, to: dataset, valFraction, seed });
  return { work, digits, dataset };
}
