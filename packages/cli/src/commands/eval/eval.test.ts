import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { initBackend, ResNet18, saveSafetensorsWeights } from '@ringtrain/model';
import { digitsDataset, runCli } from '../../run-cli.test-helper.js';

const DIGITS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

interface EvalJson {
  count: number;
  correct: number;
  accuracy: number;
  top5Accuracy: number;
  dataset: string;
  imageSize: number;
  classes: string[];
  confusion: number[][];
  perClass: { className: string; total: number; correct: number; accuracy: number | null }[];
}

/**
 * eval and predict on an untrained (seeded) model: the numbers are chance-level, but every image must be
 * counted once, in the right cell, and the errors must name the fix. The trained-model check (eval reproduces
 * the run's accuracy) is in the train tests.
 */
describe('ringtrain eval and predict', () => {
  let work = '';
  let dataset = '';
  let run = '';
  before(async () => {
    ({ work, dataset } = await digitsDataset('ringtrain-eval-', 6, 0.5, 2));
    run = path.join(work, 'run');
    await mkdir(path.join(run, 'model'), { recursive: true });
    await initBackend({ requested: 'wasm', log: () => {} });
    const model = ResNet18.create({ numClasses: 10, seed: 1 });
    await writeFile(
      path.join(run, 'model', 'model.safetensors'),
      saveSafetensorsWeights(model, { labels: JSON.stringify(DIGITS), imageSize: '16' })
    );
    model.dispose();
    await writeFile(path.join(run, 'run.json'), JSON.stringify({ dataset }));
  });
  after(() => rm(work, { recursive: true, force: true }));

  it("counts every validation image once: the confusion matrix's trace is the hits, its rows the class counts", async () => {
    const result = await runCli(['eval', run, '--json', '--backend', 'wasm', '--threads', '1']);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as EvalJson;
    assert.equal(report.count, 30);
    assert.equal(report.imageSize, 16, 'the size recorded in the model file');
    assert.deepEqual(report.classes, DIGITS);
    assert.equal(
      report.confusion.flat().reduce((sum, value) => sum + value, 0),
      30
    );
    assert.equal(
      report.confusion.reduce((sum, row, index) => sum + row[index]!, 0),
      report.correct
    );
    assert.equal(report.accuracy, report.correct / 30);
    assert.ok(report.top5Accuracy >= report.accuracy && report.top5Accuracy <= 1);
    report.perClass.forEach((entry, index) => {
      assert.equal(entry.total, 3, `class ${entry.className}: 3 of its 6 images are held out`);
      assert.equal(entry.correct, report.confusion[index]![index]);
    });
  });

  it('prints a readable report, and --split train evaluates the other split', async () => {
    const text = await runCli([
      'eval',
      '--model',
      path.join(run, 'model'),
      '--data',
      dataset,
      '--split',
      'train',
      '--backend',
      'wasm',
      '--threads',
      '1'
    ]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stdout,
      /^train split of .*dataset, 16px: \d+\/30 correct = accuracy [\d.]+% \(top-5 [\d.]+%\), loss [\d.]+/
    );
    assert.match(text.stdout, /confusion matrix \(rows: true class, columns: predicted\)/);
  });

  it('evaluates an ImageFolder directory whole, with the model given as its .safetensors file', async () => {
    const result = await runCli([
      'eval',
      '--model',
      path.join(run, 'model', 'model.safetensors'),
      '--data',
      path.join(work, 'digits'),
      '--json',
      '--backend',
      'wasm',
      '--threads',
      '1'
    ]);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as EvalJson;
    assert.equal(report.count, 60, 'all 6 images of each of the 10 classes');
    assert.equal(report.dataset, path.join(work, 'digits'));
    assert.equal(
      report.confusion.flat().reduce((sum, value) => sum + value, 0),
      60
    );
  });

  it('predict ranks the classes of image files and folders, most probable first', async () => {
    const result = await runCli([
      'predict',
      run,
      path.join(work, 'digits', '3'),
      '--top',
      '3',
      '--json',
      '--backend',
      'wasm'
    ]);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { file: string; top: { label: string; probability: number }[] });
    assert.equal(lines.length, 6);
    for (const line of lines) {
      assert.match(line.file, /digits\/3\/.*\.png$/);
      assert.equal(line.top.length, 3);
      assert.ok(line.top.every((entry) => DIGITS.includes(entry.label)));
      assert.ok(
        line.top[0]!.probability >= line.top[1]!.probability && line.top[1]!.probability >= line.top[2]!.probability
      );
    }
    const withLogits = await runCli([
      'predict',
      '--model',
      run,
      '--logits',
      '--top',
      '1',
      '--json',
      '--backend',
      'wasm',
      path.join(work, 'digits', '3', lines[0]!.file.split('/').at(-1)!)
    ]);
    assert.equal(withLogits.code, 0, withLogits.stderr);
    const single = JSON.parse(withLogits.stdout) as { top: { label: string }[]; logits: number[] };
    assert.equal(single.logits.length, 10);
    assert.equal(
      single.top[0]!.label,
      DIGITS[single.logits.indexOf(Math.max(...single.logits))],
      'the top class has the largest logit'
    );
    assert.equal(
      single.top[0]!.label,
      lines[0]!.top[0]!.label,
      'the same image gets the same answer alone or in a batch'
    );
  });

  it('names the problem and the fix: no model, no dataset, classes that differ, a file that is not an image', async () => {
    const noModel = await runCli(['eval', work, '--data', dataset]);
    assert.equal(noModel.code, 2);
    assert.match(noModel.stderr, /holds no trained model: expected model.safetensors/);
    const twice = await runCli(['eval', run, '--model', run]);
    assert.equal(twice.code, 2);
    assert.match(twice.stderr, /give the model once/);
    const noData = await runCli(['eval', path.join(run, 'model')]);
    assert.equal(noData.code, 2);
    assert.match(noData.stderr, /no run.json\), so its dataset is unknown: give --data/);
    const other = path.join(work, 'other');
    await mkdir(path.join(other, 'model'), { recursive: true });
    const three = ResNet18.create({ numClasses: 3, seed: 1 });
    await writeFile(
      path.join(other, 'model', 'model.safetensors'),
      saveSafetensorsWeights(three, { labels: JSON.stringify(['a', 'b', 'c']) })
    );
    three.dispose();
    const mismatch = await runCli(['eval', other, '--data', dataset]);
    assert.equal(mismatch.code, 2);
    assert.match(mismatch.stderr, /the dataset's classes \(0, 1, .*\) are not the model's \(a, b, c\)/);
    await writeFile(path.join(work, 'garbage.safetensors'), 'not weights at all');
    const garbage = await runCli([
      'predict',
      '--model',
      path.join(work, 'garbage.safetensors'),
      path.join(work, 'digits', '3')
    ]);
    assert.equal(garbage.code, 2);
    assert.match(
      garbage.stderr,
      /garbage\.safetensors is not a safetensors file .*: give the model\.safetensors a run wrote/
    );
    await writeFile(path.join(work, 'notes.png'), 'not a picture');
    const notImage = await runCli(['predict', run, path.join(work, 'notes.png')]);
    assert.equal(notImage.code, 2);
    assert.match(notImage.stderr, /notes.png: not a JPEG, PNG or WebP image/);
  });
});
