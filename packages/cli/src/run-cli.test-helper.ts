import { spawn } from 'node:child_process';
import { text } from 'node:stream/consumers';
import { fileURLToPath } from 'node:url';

/** The real `ringtrain` entry point, as users run it. */
export const ringtrainBin = fileURLToPath(new URL('../bin/ringtrain.mjs', import.meta.url));

/** Runs `ringtrain <argv>` in a child process (the test runner owns this process's stdout) and collects its output. */
export async function runCli(argv: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [ringtrainBin, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  const [stdout, stderr, code] = await Promise.all([text(child.stdout), text(child.stderr), new Promise<number>((resolve) => child.once('close', (exit) => resolve(exit ?? 1)))]);
  return { code, stdout, stderr };
}
