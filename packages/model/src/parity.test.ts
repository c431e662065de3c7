import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './backend.js';
import { decodeSafetensors, toFloat32 } from './safetensors.js';
import type { SafetensorsFile } from './safetensors.js';
import { Trainer } from './trainer.js';
import { fromTorchLayout, loadSafetensorsWeights } from './weights.js';

/**
 * Parity with the real thing: scripts/parity/make-resnet18-fixture.py runs torchvision's resnet18 (Debian
 * python3-torchvision, installed by scripts/install-python-reference.sh) and this test checks our forward
 * pass and one SGD training step against it. Fixtures are cached under .cache/parity/ (gitignored), keyed
 * by the script's hash.
 */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SCRIPT = `${ROOT}scripts/parity/make-resnet18-fixture.py`;
/** The model and the safetensors writer the script imports: part of the fixture's key too. */
const HELPER = `${ROOT}scripts/parity/fixture_io.py`;
const PYTHON = '/usr/bin/python3';
const NUM_CLASSES = 5;
const IMAGE_SIZE = 64;

/** Eval-mode logits: max |ours − torch| / max |torch| (the bar). */
const FORWARD_TOLERANCE = 1e-4;
/**
 * One SGD step (lr 0.1, momentum 0.9): every updated tensor within 1e-2 of PyTorch's, relative to the
 * tensor's largest value, and every parameter's update pointing the same way (cosine ≥ 0.9999). Tighter
 * element-wise bounds are not meaningful: a pre-activation within float32 rounding of zero can fall on the
 * other side of a ReLU than in PyTorch, and train-mode batch norm spreads that one flip over the whole
 * channel. Measured here: cpu within 1e-5 everywhere; wasm 3e-3 on conv1.weight from one such flip in
 * layer1.1 (cosine 0.999997), everything else within 1e-4.
 */
const STEP_WEIGHT_TOLERANCE = 1e-2;
const STEP_COSINE = 0.9999;

function fixture(): { weights: Uint8Array; inputs: SafetensorsFile; after: SafetensorsFile } {
  const key = createHash('sha256')
    .update(readFileSync(SCRIPT))
    .update(readFileSync(HELPER))
    .update(`${NUM_CLASSES} ${IMAGE_SIZE}`)
    .digest('hex')
    .slice(0, 16);
  const dir = `${ROOT}.cache/parity/resnet18-${key}`;
  if (!existsSync(`${dir}/after-step.safetensors`)) {
    try {
      execFileSync(
        PYTHON,
        [SCRIPT, '--out', dir, '--num-classes', String(NUM_CLASSES), '--image-size', String(IMAGE_SIZE)],
        {
          stdio: ['ignore', 'ignore', 'pipe']
        }
      );
    } catch (error) {
      const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? String(error);
      throw new Error(
        `the PyTorch reference could not run (${stderr.trim().split('\n').at(-1)}); ` +
          'install it with scripts/install-python-reference.sh'
      );
    }
  }
  return {
    weights: readFileSync(`${dir}/weights.safetensors`),
    inputs: decodeSafetensors(readFileSync(`${dir}/inputs.safetensors`)),
    after: decodeSafetensors(readFileSync(`${dir}/after-step.safetensors`))
  };
}

function relativeError(actual: Float32Array, expected: Float32Array): number {
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return worst / Math.max(scale, 1e-12);
}

const data = fixture();
const tensor = (name: string): Float32Array => toFloat32(name, data.inputs.tensors.get(name)!);
const images = tensor('images');
const batch = images.length / (IMAGE_SIZE * IMAGE_SIZE * 3);

// The suite's backend (RINGTRAIN_BACKEND: the package's test script runs this suite on each), and cpu as the
// plain reference implementation.
const suiteBackend = (await initBackend({ log: () => {} })).name;
for (const backend of [...new Set([suiteBackend, 'cpu'] as const)]) {
  test(`eval-mode logits match torchvision resnet18 within ${FORWARD_TOLERANCE} relative (${backend})`, async () => {
    await initBackend({ requested: backend, log: () => {} });
    const { model } = loadSafetensorsWeights(data.weights, { numClasses: NUM_CLASSES });
    const logits = tf.tidy(() =>
      model.forward(tf.tensor4d(images, [batch, IMAGE_SIZE, IMAGE_SIZE, 3]), { training: false }).dataSync()
    );
    const error = relativeError(logits as Float32Array, tensor('eval_logits'));
    assert.ok(error < FORWARD_TOLERANCE, `relative error ${error}`);
    model.dispose();
  });
}

// The step on the suite's backend only: the cpu backend's naive JavaScript convolution gradients take minutes at this size
// under load (it matched PyTorch within 1e-5 when measured once); its forward pass is checked above.
for (const backend of suiteBackend === 'cpu' ? [] : [suiteBackend]) {
  test(`one SGD step in train mode matches PyTorch's updated weights (${backend})`, async () => {
    await initBackend({ requested: backend, log: () => {} });
    const { model } = loadSafetensorsWeights(data.weights, { numClasses: NUM_CLASSES });
    const before = new Map(model.spec.map((spec) => [spec.name, model.read(spec.name)]));
    const trainer = Trainer.create(
      { numClasses: NUM_CLASSES, imageSize: IMAGE_SIZE, optimizer: { kind: 'sgd', lr: 0.1, momentum: 0.9 } },
      model
    );
    const labels = Int32Array.from(tensor('labels'));
    const result = trainer.computeGradients({ images, labels, count: batch });
    const torchLoss = tensor('train_loss')[0]!;
    assert.ok(Math.abs(result.loss - torchLoss) < 1e-5 * torchLoss, `loss ${result.loss} vs ${torchLoss}`);
    trainer.applyGradients(result.gradients);
    for (const spec of model.spec) {
      const expected = fromTorchLayout(spec, toFloat32(spec.name, data.after.tensors.get(spec.name)!));
      const actual = model.read(spec.name);
      if (spec.kind === 'bn-num-batches') {
        assert.deepEqual(actual, expected, spec.name);
        continue;
      }
      const old = before.get(spec.name)!;
      const weightError = relativeError(actual, expected);
      const cos = spec.parameter
        ? cosine(
            actual.map((v, i) => v - old[i]!),
            expected.map((v, i) => v - old[i]!)
          )
        : 1;
      const summary = `${spec.name}: weight error ${weightError.toExponential(1)}, update cosine ${cos.toFixed(6)}`;
      assert.ok(weightError < STEP_WEIGHT_TOLERANCE && cos > STEP_COSINE, summary);
    }
    trainer.dispose();
  });
}

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}
