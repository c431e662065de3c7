import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { Coordinator } from '../coordinator.js';
import { parseRunConfig } from '@ringtrain/protocol';
import { describeRunPlan } from '../run-plan.js';
import type { DashboardData } from './dashboard.js';

let work = '';
before(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-dashboard-'));
});
after(() => rm(work, { recursive: true, force: true }));

describe('the dashboard', () => {
  it('is served at / with uPlot from node_modules, next to /status, and its data carries the plan', async () => {
    const config = parseRunConfig(
      {
        runId: 'run-dashboard',
        dataset: '/nowhere',
        out: work,
        workers: 2,
        epochs: 2,
        batchSize: 4,
        partitions: 2,
        training: { numClasses: 3 },
        cacheDir: work
      },
      'the test'
    );
    const plan = describeRunPlan(config, { classes: ['a', 'b', 'c'], trainImages: 40, valImages: 9 });
    const coordinator = await Coordinator.start({
      config,
      token: 'a-test-token-of-enough-length',
      logger: pino({ level: 'silent' }),
      httpPort: 0,
      plan
    });
    try {
      const base = coordinator.httpAddress!;
      const page = await fetch(`${base}/`);
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-type')!, /text\/html/);
      assert.match(page.headers.get('content-security-policy')!, /default-src 'self'/);
      const html = await page.text();
      for (const asset of [
        'dashboard/uplot.min.js',
        'dashboard/uplot.min.css',
        'dashboard/app.js',
        'dashboard/app.css'
      ]) {
        assert.ok(html.includes(asset), asset);
        const response = await fetch(`${base}/${asset}`);
        assert.equal(response.status, 200, asset);
        assert.ok((await response.text()).length > 100, asset);
      }
      assert.match(await (await fetch(`${base}/dashboard/uplot.min.js`)).text(), /uPlot/);
      const data = (await (await fetch(`${base}/dashboard/data.json?version=-1&after=-1`)).json()) as DashboardData;
      assert.equal(data.plan?.globalBatch, 8);
      assert.match(data.planText!, /40 training images ÷ global batch 8 = 5 iterations per epoch/);
      assert.deepEqual([data.steps.reset, data.steps.points.length, data.validation], [true, 0, null]);
      const status = (await (await fetch(`${base}/status`)).json()) as { plan: { iterationsPerEpoch: number } };
      assert.equal(status.plan.iterationsPerEpoch, 5);
      assert.equal((await fetch(`${base}/dashboard/nothing-here`)).status, 404);
      assert.match(await (await fetch(`${base}/nothing`)).text(), /try \/ \(the dashboard\), \/status/);
    } finally {
      await coordinator.close();
    }
  });
});
