import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderReportHtml, type ReportInput } from './report-html.js';
import { perClassAccuracy, resolveConfusion, timeSplit } from './report-model.js';
import { parseRunMetrics, type RunMetrics } from './run-metrics.js';
import { demoMetricsText, EVIL_CLASS, tinyRunWithPlan } from './testdata/fixtures.js';

const oldFormat = (): RunMetrics => parseRunMetrics(demoMetricsText, 'runs/demo/metrics.json');
const withPlan = (): RunMetrics => parseRunMetrics(JSON.stringify(tinyRunWithPlan()), 'runs/tiny/metrics.json');
const at = new Date('2026-11-27T13:00:00Z');
const render = (metrics: RunMetrics, extra: Partial<ReportInput> = {}): string =>
  renderReportHtml({ metrics, source: 'runs/demo/metrics.json', generatedAt: at, ...extra });

/** Section headings in page order: the report's structure, which a reader learns once. */
const headings = (html: string): string[] => [...html.matchAll(/<h2>([^<]*)<\/h2>/g)].map((match) => match[1]!);

describe('renderReportHtml', () => {
  it('lays out a run of the older format (no plan, no confusion matrix) in a fixed order of sections', () => {
    const html = render(oldFormat());
    assert.deepEqual(headings(html), [
      'Curves',
      'Epochs',
      'Throughput and time',
      'Restarts',
      'Run configuration',
      'Model'
    ]);
    assert.match(html, /^<!DOCTYPE html>\n<html lang="en">/);
    assert.ok(html.trimEnd().endsWith('</html>'));
  });

  it("adds the run plan, per-step curves, each rank's step split and the confusion matrix when metrics.json has them", () => {
    const html = render(withPlan());
    assert.deepEqual(headings(html), [
      'The run plan',
      'Curves',
      'Epochs',
      'Throughput and time',
      'Restarts',
      'Confusion matrix and per-class accuracy',
      'Run configuration',
      'Model'
    ]);
    assert.match(html, /480 training images ÷ global batch 32 = 15 iterations per epoch/);
    assert.match(html, /Training loss per iteration \(global batch\)/);
    assert.match(html, /<h3>The mean step, rank by rank<\/h3>/);
    assert.match(html, /<td>rank 1 \(wasm\)<\/td>(<td>[\d.]+ s<\/td>){5}<\/tr>/);
    assert.match(html, /From validation at the end of epoch 1 \(120 images\)/);
    assert.match(html, /<td>6<\/td><td>12 \/ 12<\/td>/);
  });

  it('shows the figures a reader looks for: final accuracy against chance, per-epoch curves, throughput, time split', () => {
    const html = render(oldFormat());
    assert.match(
      html,
      /final validation accuracy<\/div><div class="value">90\.0%<\/div><div class="note">chance with 10 classes: 10\.0%/
    );
    // Two charts of two series each, one point per epoch, plus the throughput chart's four points.
    assert.equal(html.match(/<circle /g)?.length, 4 * 2 * 2 + 4);
    assert.match(html, /Where the wall time went/);
    assert.match(html, /training steps: 70 s \(87%\)/);
    assert.match(html, /2 × 16 = 32/);
    assert.match(html, /None: the run finished in its first generation/);
  });

  it('is self-contained: no script, no stylesheet link, no image or font fetched from anywhere', () => {
    const html = render(withPlan());
    assert.ok(
      !/<script|<link|<img|<iframe|@import|url\(/i.test(html.replaceAll('&#60;img', '')),
      'no element or CSS rule that loads something'
    );
    const urls = [...html.matchAll(/https?:\/\/[^\s"'<)]+/g)].map((match) => match[0]);
    assert.deepEqual(
      [...new Set(urls)],
      ['http://www.w3.org/2000/svg'],
      'the SVG namespace is the only URL, and it is never fetched'
    );
  });

  it('escapes class names, restart reasons and run ids wherever they appear', () => {
    const metrics = withPlan();
    metrics.restarts.push({ generation: 0, reason: 'worker-1 exited: <b>SIGKILL</b>', at: '2026-11-27T12:54:30Z' });
    const html = render(metrics);
    assert.ok(!html.includes(EVIL_CLASS), 'the raw class name never appears');
    assert.ok(!html.includes('<b>SIGKILL</b>'));
    assert.ok(html.includes('worker-1 exited: &#60;b&#62;SIGKILL&#60;/b&#62;'));
    assert.ok(html.includes('&#60;img src=x onerror=&#34;alert(1)&#34;&#62;&#38;&#39;'));
    assert.match(html, /<h2>Restarts<\/h2><p>Each restart ended a generation/);
  });

  it('renders the same bytes for the same input (no clock or randomness inside)', () => {
    assert.equal(render(withPlan()), render(withPlan()));
  });

  it('prefers the confusion matrix of ringtrain eval when one is given', () => {
    const evaluation = {
      split: 'val',
      count: 3,
      accuracy: 2 / 3,
      classes: ['cat', 'dog'],
      confusion: [
        [1, 0],
        [1, 1]
      ],
      dataset: 's3://b/pets'
    };
    const html = render(oldFormat(), { evaluation });
    assert.match(html, /From ringtrain eval on the val split of s3:\/\/b\/pets \(3 images\)/);
    assert.match(html, /<td>dog<\/td><td>1 \/ 2<\/td>/);
  });

  it('says plainly when no epoch finished instead of drawing empty charts', () => {
    const metrics = oldFormat();
    metrics.epochs = [];
    const html = render(metrics);
    assert.match(html, /No epoch finished, so there are no curves/);
    assert.ok(!html.includes('NaN'));
  });
});

describe('report model', () => {
  it('computes per-class accuracy as recall, null for a class without samples', () => {
    assert.deepEqual(
      perClassAccuracy(
        ['a', 'b', 'c'],
        [
          [3, 1, 0],
          [0, 0, 0],
          [1, 1, 2]
        ]
      ),
      [
        { name: 'a', count: 4, correct: 3, accuracy: 0.75 },
        { name: 'b', count: 0, correct: 0, accuracy: null },
        { name: 'c', count: 4, correct: 2, accuracy: 0.5 }
      ]
    );
  });

  it('takes the confusion matrix from ringtrain eval, else from the last validation, else shows none', () => {
    const evaluation = {
      split: 'train',
      count: 2,
      accuracy: 1,
      classes: ['a', 'b'],
      confusion: [
        [1, 0],
        [0, 1]
      ]
    };
    assert.deepEqual(resolveConfusion(withPlan(), evaluation)?.classes, ['a', 'b']);
    assert.equal(resolveConfusion(withPlan())?.classes.length, 10);
    assert.equal(resolveConfusion(oldFormat()), undefined);
  });

  it('splits the wall time into training steps and the rest', () => {
    const split = timeSplit(oldFormat());
    assert.equal(split.totalSeconds, 80.148);
    assert.ok(Math.abs(split.trainingSeconds - 69.963) < 1e-3);
    assert.ok(split.consistent);
  });
});
