import assert from 'node:assert/strict';
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { digitsDataset, runCli, smallDigitsRun } from '../../run-cli.test-helper.js';

const slow = process.env.RINGTRAIN_SKIP_SLOW_TESTS === '1' ? 'RINGTRAIN_SKIP_SLOW_TESTS=1' : false;

interface Metrics {
  weightsIdentical: boolean;
  weightsSha256: string[];
}

/**
 * `--collective-stripes 2` cuts each gradient all-reduce over two links per ring edge, each on its own thread.
 * With 2 ranks and an f32 wire each element's sum is a + b whichever rank owns it, so the striped run must end
 * with exactly the weights of the run over one link: the stripes moved every byte, and moved them right.
 */
describe('ringtrain train --collective-stripes', () => {
  let work = '';
  let dataset = '';
  before(async () => {
    ({ work, dataset } = await digitsDataset('ringtrain-stripes-', 30, 0.2));
  });
  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it(
    '[slow] 2 stripes train to the same weights as 1 link, ranks identical',
    { skip: slow, timeout: 10 * 60_000 },
    async () => {
      const weights: string[] = [];
      for (const stripes of [1, 2]) {
        const out = path.join(work, `stripes-${stripes}`);
        const run = await runCli([
          'train',
          ...smallDigitsRun(dataset, out, { epochs: 1 }),
          '--collective-stripes',
          String(stripes),
          '--json'
        ]);
        assert.equal(run.code, 0, run.stderr);
        // Each worker's log (<out>/logs) says how many links per edge its ring formed with.
        const logs = await Promise.all(
          (await readdir(path.join(out, 'logs'))).map((file) => readFile(path.join(out, 'logs', file), 'utf8'))
        );
        const joined = logs.flatMap((log) => log.split('\n')).filter((line) => line.includes('joined the ring'));
        assert.equal(joined.length, 2, `each rank logs joining the ring once:\n${logs.join('\n')}`);
        for (const line of joined) assert.match(line, new RegExp(`"linksPerEdge":${stripes}\\b`));
        const metrics = JSON.parse(await readFile(path.join(out, 'metrics.json'), 'utf8')) as Metrics;
        assert.equal(metrics.weightsIdentical, true, `${stripes} stripes: ranks end bit-identical`);
        weights.push(metrics.weightsSha256[0]!);
      }
      assert.equal(weights[1], weights[0], 'the striped run ends with the one-link run’s weights');
    }
  );
});
