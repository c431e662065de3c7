import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, missingBinding, parseBackendRequest } from './backend.js';

const nativeBindingBuilt = (): boolean => missingBinding('@tensorflow/tfjs-node') === undefined;

test(
  "CI has the native backend: npm ci built tfjs-node against PyPI's TensorFlow",
  { skip: process.env.CI !== 'true' },
  () => {
    assert.ok(
      nativeBindingBuilt(),
      "the postinstall step did not build @tensorflow/tfjs-node; see its line in npm ci's output"
    );
  }
);

test('auto prefers tensorflow when its binding is built, else says how to get it and falls back to wasm', async () => {
  const lines: string[] = [];
  const log = (line: string): void => void lines.push(line);
  const choice = await initBackend({
    requested: 'auto',
    env: {},
    log,
    threads: { intraOp: 1, interOp: 1, reason: 'test' }
  });
  if (nativeBindingBuilt()) {
    assert.equal(choice.name, 'tensorflow');
    assert.equal(tf.getBackend(), 'tensorflow');
    // tfjs-node-gpu is installed but unbuilt here: it is skipped without being imported (no duplicate kernels).
    assert.equal(choice.native?.package, '@tensorflow/tfjs-node');
    assert.equal(choice.native?.gpu, false);
    assert.match(choice.native?.tensorflowVersion ?? '', /^2\.\d+\.\d+$/);
    assert.match(
      lines[0] ?? '',
      /compute backend tensorflow \(preferred; TensorFlow 2\.\d+\.\d+ via @tensorflow\/tfjs-node, CPU, /
    );
  } else {
    assert.equal(choice.name, 'wasm');
    assert.match(choice.reason, /tensorflow unavailable \(.*install-native-tensorflow\.mjs builds it/);
  }
  await initBackend({ requested: 'cpu', env: {}, log });
  assert.equal(lines.length, 1, 'the choice is logged once per process');
});

test('RINGTRAIN_BACKEND selects the backend when no flag is given, and the flag wins over it', async () => {
  const fromEnv = await initBackend({ env: { RINGTRAIN_BACKEND: 'cpu' }, log: () => {} });
  assert.deepEqual([fromEnv.name, tf.getBackend(), fromEnv.reason], ['cpu', 'cpu', 'requested by RINGTRAIN_BACKEND']);
  const fromFlag = await initBackend({ requested: 'wasm', env: { RINGTRAIN_BACKEND: 'cpu' }, log: () => {} });
  assert.deepEqual([fromFlag.name, fromFlag.reason], ['wasm', 'requested by --backend']);
});

test(
  'TensorFlow computes with the threads chosen for it, unless TF_NUM_INTRAOP_THREADS is set',
  { skip: !nativeBindingBuilt() },
  () => {
    // A fresh process each: TensorFlow sizes its pools once, when the library loads.
    const probe = (env: Record<string, string>): string => {
      const script = `import { initBackend } from './backend.ts';
      const c = await initBackend({ requested: 'tensorflow', log: () => {}, threads: { intraOp: 3, interOp: 1, reason: 'probe' } });
      process.stdout.write(JSON.stringify([c.native?.threads, process.env.TF_NUM_INTRAOP_THREADS]));`;
      const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        cwd: import.meta.dirname,
        encoding: 'utf8',
        env
      });
      assert.equal(result.status, 0, result.stderr);
      return result.stdout;
    };
    const clean = Object.fromEntries(
      Object.entries(process.env).filter(
        (entry): entry is [string, string] => !entry[0].startsWith('TF_NUM_') && entry[1] !== undefined
      )
    );
    assert.deepEqual(JSON.parse(probe(clean)), [{ intraOp: 3, interOp: 1, reason: 'probe' }, '3']);
    assert.deepEqual(JSON.parse(probe({ ...clean, TF_NUM_INTRAOP_THREADS: '2' })), [
      { intraOp: 2, interOp: 0, reason: 'TF_NUM_INTRAOP_THREADS in the environment' },
      '2'
    ]);
  }
);

test('unknown backend names are rejected with the accepted values', () => {
  assert.throws(
    () => parseBackendRequest('gpu', 'RINGTRAIN_BACKEND'),
    /unknown backend "gpu"; use one of auto, tensorflow, wasm, cpu/
  );
  assert.equal(parseBackendRequest('wasm', '--backend'), 'wasm');
});
