import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MetricsFileError, parseEvaluation, parseRunMetrics } from './run-metrics.js';
import { demoMetricsJson, demoMetricsText, tinyRunWithPlan } from './testdata/fixtures.js';

describe('parseRunMetrics', () => {
  it('reads a real metrics.json written before the plan and the confusion matrix existed', () => {
    const metrics = parseRunMetrics(demoMetricsText, 'runs/demo/metrics.json');
    assert.equal(metrics.epochs.length, 4);
    assert.equal(metrics.final.valAccuracy, 0.9);
    assert.equal(metrics.plan, undefined);
    assert.equal(metrics.validation, undefined);
  });

  it("reads the plan, the per-step points, the ranks' step split and the validation by class of the current format", () => {
    const metrics = parseRunMetrics(JSON.stringify(tinyRunWithPlan()), 'm.json');
    assert.equal(metrics.plan?.globalBatch, 32);
    assert.equal(metrics.steps?.length, 15);
    assert.deepEqual(
      metrics.rankStepSeconds?.map((rank) => rank.rank),
      [0, 1]
    );
    assert.equal(metrics.validation?.confusion.length, 10);
  });

  it('treats a plan or validation the coordinator could not make (null) as absent', () => {
    const metrics = parseRunMetrics(JSON.stringify({ ...tinyRunWithPlan(), plan: null, validation: null }), 'm.json');
    assert.equal(metrics.plan, undefined);
    assert.equal(metrics.validation, undefined);
  });

  it('accepts a diverged run: NaN losses are null in JSON', () => {
    const json = demoMetricsJson() as { epochs: Record<string, unknown>[]; final: Record<string, unknown> };
    json.epochs[3]!.trainLoss = null;
    json.final.trainLoss = null;
    assert.equal(parseRunMetrics(JSON.stringify(json), 'm.json').final.trainLoss, null);
  });

  it('names the file, the broken field and the fix when the content is not a metrics.json', () => {
    const json = demoMetricsJson() as { epochs: Record<string, unknown>[] };
    json.epochs[1]!.valAccuracy = 'high';
    delete (json as Record<string, unknown>).config;
    assert.throws(
      () => parseRunMetrics(JSON.stringify(json), 'runs/x/metrics.json'),
      (error: unknown) => {
        assert.ok(error instanceof MetricsFileError);
        assert.match(error.message, /^runs\/x\/metrics\.json is not a run's metrics\.json/);
        assert.match(error.message, /  config: /);
        assert.match(error.message, /  epochs\.1\.valAccuracy: /);
        assert.match(error.message, /give the --out directory of a finished `ringtrain train`/);
        return true;
      }
    );
  });

  it('says a truncated file is not JSON and how to get a whole one', () => {
    assert.throws(
      () => parseRunMetrics(demoMetricsText.slice(0, 500), 'runs/x/metrics.json'),
      /runs\/x\/metrics\.json is not JSON \(.*\): it was cut short .*ringtrain train --resume/
    );
  });

  it('refuses a confusion matrix without one row and column per class', () => {
    const json = tinyRunWithPlan() as { validation: { confusion: number[][] } };
    json.validation.confusion = json.validation.confusion.slice(1);
    assert.throws(
      () => parseRunMetrics(JSON.stringify(json), 'm.json'),
      /m\.json: validation\.confusion is not 10 × 10 \(one row and column per class\)/
    );
  });
});

describe('parseEvaluation', () => {
  const evaluation = {
    split: 'val',
    count: 4,
    accuracy: 0.75,
    loss: 0.5,
    classes: ['cat', 'dog'],
    confusion: [
      [2, 0],
      [1, 1]
    ]
  };
  it('reads what ringtrain eval --out writes', () => {
    assert.deepEqual(parseEvaluation(JSON.stringify(evaluation), 'eval.json').confusion, [
      [2, 0],
      [1, 1]
    ]);
  });
  it('refuses a matrix whose size does not match the classes', () => {
    assert.throws(
      () =>
        parseEvaluation(
          JSON.stringify({
            ...evaluation,
            confusion: [
              [2, 0, 0],
              [1, 1, 0]
            ]
          }),
          'eval.json'
        ),
      /not 2 × 2/
    );
  });
  it('refuses a run metrics.json given as --eval, naming what it lacks', () => {
    assert.throws(
      () => parseEvaluation(demoMetricsText, 'metrics.json'),
      /metrics\.json is not an evaluation as `ringtrain eval --out` writes it:\n  split: /
    );
  });
});
