import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../../bin/ringtrain.mjs', import.meta.url));

test('bench train --json prints one object with the benchmark fields and logs the backend on stderr', () => {
  const args = [
    'bench',
    'train',
    '--backend',
    'wasm',
    '--image-size',
    '32',
    '--batch-size',
    '2',
    '--steps',
    '1',
    '--warmup-steps',
    '0',
    '--num-classes',
    '3',
    '--json'
  ];
  const result = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  const report = JSON.parse(result.stdout) as Record<string, unknown>;
  for (const key of ['backend', 'imageSize', 'batchSize', 'imagesPerSec', 'stepMs', 'forwardMs', 'backwardMs']) {
    assert.ok(key in report, `missing ${key}`);
  }
  assert.deepEqual([report.backend, report.imageSize, report.batchSize], ['wasm', 32, 2]);
  assert.match(result.stderr, /compute backend wasm \(requested by --backend\)/);
});

test('bench train rejects bad flags with exit code 2 and names them', () => {
  const result = spawnSync(process.execPath, [bin, 'bench', 'train', '--backend', 'gpu', '--batch-size', '0'], {
    encoding: 'utf8'
  });
  assert.equal(result.status, 2);
  assert.match(result.stderr, /--backend: /);
  assert.match(result.stderr, /--batch-size: /);
});
