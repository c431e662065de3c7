import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RunTimeline, type StepInput } from './run-timeline.js';

function step(globalStep: number, ranks: StepInput['ranks'] = []): StepInput {
  return {
    globalStep,
    epoch: 0,
    epochStep: globalStep,
    epochSteps: 100,
    loss: 1 / globalStep,
    accuracy: 0.5,
    imagesPerSecond: 10,
    learningRate: 0.001,
    ranks
  };
}

const rank = (index: number, backend: string, compute: number) => ({
  rank: index,
  backend,
  dataWaitSeconds: 0.01,
  computeSeconds: compute,
  allreduceSeconds: 0.1,
  optimizerSeconds: 0.02
});

describe('validation by class', () => {
  it('names the classes from the plan, or numbers them when there is none', () => {
    const timeline = new RunTimeline();
    timeline.recordValidation(2, [1, 0, 0, 1]);
    assert.deepEqual(timeline.validation()?.classes, ['class 0', 'class 1']);
    assert.equal(timeline.validation()?.epoch, 2);
    timeline.recordValidation(3, []);
    assert.equal(timeline.validation()?.epoch, 2, 'an epoch report without a matrix keeps the last one');
  });
});

describe('RunTimeline', () => {
  it('replaces the steps redone after a restart, and tells a poller holding the old series to refetch', () => {
    const timeline = new RunTimeline();
    for (let global = 1; global <= 6; global += 1) timeline.recordStep(step(global));
    const before = timeline.stepsSince(-1, -1);
    assert.equal(before.reset, true);
    assert.deepEqual(
      timeline.stepsSince(before.version, 4).points.map((point) => point.globalStep),
      [5, 6]
    );
    timeline.recordStep(step(4));
    assert.deepEqual(
      timeline.steps().map((point) => point.globalStep),
      [1, 2, 3, 4]
    );
    const after = timeline.stepsSince(before.version, 6);
    assert.equal(after.reset, true);
    assert.equal(after.points.length, 4);
  });

  it('stays bounded on a long run: past maxPoints it keeps every other step, evenly', () => {
    const timeline = new RunTimeline(undefined, 100);
    for (let global = 1; global <= 1_000; global += 1) timeline.recordStep(step(global));
    const points = timeline.steps();
    assert.ok(points.length <= 100 && points.length > 50, `${points.length} points`);
    const gaps = new Set(points.slice(1).map((point, index) => point.globalStep - points[index]!.globalStep));
    assert.equal(gaps.size, 1, 'one stride');
  });

  it("keeps each rank's time split, means over the run, and announces the backends once and on change", () => {
    const timeline = new RunTimeline();
    const announced: string[][] = [];
    timeline.on('backends', (backends) => announced.push(backends));
    timeline.recordStep(step(1, [rank(1, 'wasm', 0.4), rank(0, 'wasm', 0.2)]));
    timeline.recordStep(step(2, [rank(0, 'wasm', 0.4), rank(1, 'wasm', 0.6)]));
    timeline.recordStep(step(3, [rank(0, 'tensorflow', 0.3), rank(1, 'wasm', 0.5)]));
    assert.deepEqual(announced, [
      ['wasm', 'wasm'],
      ['tensorflow', 'wasm']
    ]);
    const { last, mean } = timeline.rankTimes();
    assert.deepEqual(
      last.map((each) => [each.rank, each.computeSeconds]),
      [
        [0, 0.3],
        [1, 0.5]
      ]
    );
    assert.ok(Math.abs(mean[0]!.computeSeconds - 0.3) < 1e-12);
    assert.ok(Math.abs(mean[1]!.computeSeconds - 0.5) < 1e-12);
  });
});
