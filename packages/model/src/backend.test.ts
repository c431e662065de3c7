import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, parseBackendRequest } from './backend.js';

test('auto picks wasm when tfjs-node is not installed, says why, and logs the choice once', async () => {
  const lines: string[] = [];
  const log = (line: string): void => void lines.push(line);
  const choice = await initBackend({ requested: 'auto', env: {}, log });
  // tfjs-node(-gpu) cannot install on this machine (no libtensorflow download), so wasm is the answer here.
  assert.equal(choice.name, 'wasm');
  assert.equal(tf.getBackend(), 'wasm');
  assert.match(choice.reason, /tensorflow unavailable \(@tensorflow\/tfjs-node-gpu: .*@tensorflow\/tfjs-node: /);
  await initBackend({ requested: 'cpu', env: {}, log });
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /compute backend wasm/);
});

test('RINGTRAIN_BACKEND selects the backend when no flag is given, and the flag wins over it', async () => {
  const fromEnv = await initBackend({ env: { RINGTRAIN_BACKEND: 'cpu' }, log: () => {} });
  assert.deepEqual([fromEnv.name, tf.getBackend(), fromEnv.reason], ['cpu', 'cpu', 'requested by RINGTRAIN_BACKEND']);
  const fromFlag = await initBackend({ requested: 'wasm', env: { RINGTRAIN_BACKEND: 'cpu' }, log: () => {} });
  assert.deepEqual([fromFlag.name, fromFlag.reason], ['wasm', 'requested by --backend']);
});

test('an explicit request for an unavailable backend fails and names the fallback', async () => {
  await assert.rejects(
    initBackend({ requested: 'tensorflow', env: {}, log: () => {} }),
    /--backend=tensorflow requested but unavailable: .*use --backend auto/,
  );
});

test('unknown backend names are rejected with the accepted values', () => {
  assert.throws(() => parseBackendRequest('gpu', 'RINGTRAIN_BACKEND'), /unknown backend "gpu"; use one of auto, tensorflow, wasm, cpu/);
  assert.equal(parseBackendRequest('wasm', '--backend'), 'wasm');
});
