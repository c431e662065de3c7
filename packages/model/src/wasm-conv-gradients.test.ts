import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './backend.js';
import { WASM_GRADIENT_KERNELS } from './wasm-conv-gradients.js';

interface Case {
  readonly batch: number;
  readonly height: number;
  readonly width: number;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernel: number;
  readonly stride: 1 | 2;
  readonly pad: 'same' | 'valid' | number;
}

/** Deterministic values in [-1, 1) so both backends see identical inputs. */
function values(size: number, seed: number): Float32Array {
  const out = new Float32Array(size);
  let state = seed >>> 0;
  for (let i = 0; i < size; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state / 2 ** 31 - 1;
  }
  return out;
}

async function gradients(backend: 'cpu' | 'wasm', c: Case): Promise<{ dx: Float32Array; dw: Float32Array }> {
  await initBackend({ requested: backend, log: () => {} });
  return tf.tidy(() => {
    const x = tf.tensor4d(values(c.batch * c.height * c.width * c.inChannels, 1), [
      c.batch,
      c.height,
      c.width,
      c.inChannels
    ]);
    const w = tf.tensor4d(values(c.kernel * c.kernel * c.inChannels * c.outChannels, 2), [
      c.kernel,
      c.kernel,
      c.inChannels,
      c.outChannels
    ]);
    const pad: 'same' | 'valid' | tf.backend_util.ExplicitPadding =
      typeof c.pad === 'number'
        ? [
            [0, 0],
            [c.pad, c.pad],
            [c.pad, c.pad],
            [0, 0]
          ]
        : c.pad;
    const forward = (...args: tf.Tensor[]): tf.Tensor => {
      const [input, filter] = args as [tf.Tensor4D, tf.Tensor4D];
      const y = tf.conv2d(input, filter, c.stride, pad);
      // A non-uniform upstream gradient, so every output position's contribution is distinguishable.
      return tf.sum(tf.mul(y, tf.tensor(values(y.size, 3), y.shape)));
    };
    const [dx, dw] = tf.grads(forward)([x, w]) as [tf.Tensor, tf.Tensor];
    return { dx: dx.dataSync() as Float32Array, dw: dw.dataSync() as Float32Array };
  });
}

function assertClose(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let scale = 0;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  assert.ok(worst <= 1e-5 * Math.max(1, scale), `${what}: max abs error ${worst} (scale ${scale})`);
}

const cases: Case[] = [];
for (const kernel of [1, 3, 7]) {
  for (const stride of [1, 2] as const) {
    for (const pad of ['same', 'valid', Math.floor(kernel / 2)] as const) {
      // Odd and even sizes, non-square, so that every remainder of the stride shows up.
      cases.push({
        batch: 2,
        height: 9 + kernel,
        width: 8 + kernel,
        inChannels: 3,
        outChannels: 5,
        kernel,
        stride,
        pad
      });
    }
  }
}
cases.push({ batch: 1, height: 7, width: 7, inChannels: 2, outChannels: 4, kernel: 7, stride: 2, pad: 'valid' });
cases.push({ batch: 3, height: 5, width: 4, inChannels: 1, outChannels: 1, kernel: 3, stride: 2, pad: 1 });
// Padding wider than the kernel's reach: border outputs see only zeros, so some dy entries reach no input.
cases.push({ batch: 2, height: 9, width: 8, inChannels: 3, outChannels: 4, kernel: 1, stride: 2, pad: 1 });
cases.push({ batch: 2, height: 9, width: 8, inChannels: 3, outChannels: 4, kernel: 3, stride: 2, pad: 3 });
cases.push({ batch: 2, height: 6, width: 7, inChannels: 3, outChannels: 4, kernel: 3, stride: 1, pad: 3 });

for (const c of cases) {
  const name = `k${c.kernel} s${c.stride} pad ${c.pad} ${c.height}x${c.width} ${c.inChannels}->${c.outChannels}`;
  test(`wasm convolution gradients match the cpu backend: ${name}`, async () => {
    const expected = await gradients('cpu', c);
    const actual = await gradients('wasm', c);
    assertClose(actual.dw, expected.dw, 'filter gradient');
    assertClose(actual.dx, expected.dx, 'input gradient');
  });
}

test('the wasm gradient kernels release every intermediate', async () => {
  const c = cases[4]!;
  await gradients('wasm', c);
  const before = tf.memory().numTensors;
  const backend = tf.backend() as unknown as { numDataIds(): number };
  const dataBefore = backend.numDataIds();
  await gradients('wasm', c);
  assert.equal(tf.memory().numTensors, before);
  assert.equal(backend.numDataIds(), dataBefore);
});

test('the wasm backend runs our convolution gradient kernels, not its built-in ones', async () => {
  await initBackend({ requested: 'wasm', log: () => {} });
  for (const config of WASM_GRADIENT_KERNELS) {
    assert.equal(tf.getKernel(config.kernelName, 'wasm')?.kernelFunc, config.kernelFunc, config.kernelName);
  }
});
