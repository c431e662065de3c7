#!/usr/bin/env node
// @ts-check
/**
 * Runs the model package's tests once per compute backend: `tensorflow` (what workers run; CI requires it, since
 * `npm ci` builds it there) and `wasm` (the fallback on machines without it). The [slow] tests run on the first
 * backend only: they prove properties of the training step (no leak over 1,000 steps), not of a kernel.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const tests = readdirSync('src', { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.test.ts'))
  .map((file) => join('src', file))
  .sort();

const backends = nativeBindingBuilt() || process.env.CI === 'true' ? ['tensorflow', 'wasm'] : ['wasm'];
if (backends.length === 1) process.stderr.write('model tests: tfjs-node is not built here, so they run on wasm only\n');
let failed = false;
for (const [index, backend] of backends.entries()) {
  process.stderr.write(`model tests on the ${backend} backend\n`);
  const env = { ...process.env, RINGTRAIN_BACKEND: backend, ...(index > 0 ? { RINGTRAIN_SKIP_SLOW_TESTS: '1' } : {}) };
  const result = spawnSync('tsx', ['--test', ...tests], { stdio: 'inherit', env });
  failed ||= result.status !== 0;
}
process.exitCode = failed ? 1 : 0;

function nativeBindingBuilt() {
  try {
    const lib = join(dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-node/package.json')), 'lib');
    return existsSync(lib) && readdirSync(lib).some((dir) => existsSync(join(lib, dir, 'tfjs_binding.node')));
  } catch {
    return false;
  }
}
