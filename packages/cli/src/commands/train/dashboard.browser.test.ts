import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { access, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';
import { digitsDataset, smallDigitsRun } from '../../run-cli.test-helper.js';

/**
 * The live dashboard in a real browser during a real run: Debian's chromium (scripts/install-browser.sh)
 * driven by playwright-core, which never downloads a browser of its own. The screenshot stays in
 * test-artifacts/ (gitignored) for a person to look at.
 */
const slow = process.env.RINGTRAIN_SKIP_SLOW_TESTS === '1' ? 'RINGTRAIN_SKIP_SLOW_TESTS=1' : false;
const bin = fileURLToPath(new URL('../../../bin/ringtrain.mjs', import.meta.url));
const artifacts = fileURLToPath(new URL('../../../../../test-artifacts/', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';

/** The flags of a quiet, throwaway headless browser: no GPU, no sandbox (containers), nothing phoning home. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync'
];

/**
 * Polls a condition read through locators. Not page.waitForFunction: the dashboard's Content-Security-Policy
 * forbids evaluating strings, and this package is typed without the DOM's types for a function.
 */
async function until(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > giveUpAt) assert.fail(`the page never showed ${what} within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

describe('the live dashboard in a browser', () => {
  let work = '';
  let dataset = '';
  before(async () => {
    ({ work, dataset } = await digitsDataset('ringtrain-dashboard-browser-', 20, 0.2));
  });
  after(() => rm(work, { recursive: true, force: true }));

  it(
    '[slow] shows the loss curve growing during a 2-worker run, then the confusion matrix and per-class accuracy',
    { skip: slow, timeout: 15 * 60_000 },
    async (t) => {
      await access(CHROMIUM).catch(() =>
        assert.fail(`${CHROMIUM} is missing: run scripts/install-browser.sh (Debian's chromium)`)
      );
      const out = path.join(work, 'run');
      const child = spawn(
        'nice',
        [
          '-n',
          '5',
          process.execPath,
          bin,
          'train',
          ...smallDigitsRun(dataset, out, { epochs: 2, batchSize: 8 }),
          '--json'
        ],
        {
          stdio: ['ignore', 'pipe', 'pipe']
        }
      );
      let stderr = '';
      let running = true;
      const exited = new Promise<number | null>((resolve) =>
        child.once('close', (code) => {
          running = false;
          resolve(code);
        })
      );
      child.stdout.resume();
      const dashboard = await new Promise<string>((resolve, reject) => {
        child.stderr.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
          const url = /live dashboard at (http:\/\/\S+\/) /.exec(stderr)?.[1];
          if (url !== undefined) resolve(url);
        });
        void exited.then(() => reject(new Error(`the run ended before printing the dashboard URL:\n${stderr}`)));
      });
      assert.match(stderr, /run plan of run-.*\n.*\n {2}batch: +2 workers × 8 images per worker = global batch 16/);

      const profile = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-chromium-'));
      let browser: BrowserContext | undefined;
      try {
        browser = await chromium.launchPersistentContext(profile, {
          executablePath: CHROMIUM,
          headless: true,
          args: CHROMIUM_ARGS
        });
        const page = browser.pages()[0] ?? (await browser.newPage());
        await page.setViewportSize({ width: 1280, height: 1900 });
        const pageErrors: string[] = [];
        page.on('pageerror', (error) => pageErrors.push(error.message));
        // Once the run is over its coordinator is gone: the page's failed polls are expected then, not before.
        page.on(
          'console',
          (message) => void (message.type() === 'error' && running && pageErrors.push(message.text()))
        );
        await page.goto(dashboard);

        await until(
          async () => Number(await page.locator('#loss-chart').getAttribute('data-points')) >= 2,
          10 * 60_000,
          'two points on the loss curve'
        );
        assert.ok(running, 'the curve had two points while the run was still going');
        assert.equal(await page.locator('#loss-chart canvas').count(), 1, 'uPlot drew the curve');
        assert.match(
          (await page.locator('#plan').textContent()) ?? '',
          /160 training images ÷ global batch 16 = 10 iterations per epoch/
        );

        // 10 classes: a header row and one row per true class, once the first epoch's validation is in.
        await until(
          async () => (await page.locator('#confusion tr').count()) === 11,
          10 * 60_000,
          'the confusion matrix'
        );
        assert.equal(await exited, 0, stderr);
        // ringtrain train keeps the coordinator up a moment for a watching page, so it shows how the run ended.
        await until(
          async () => (await page.locator('body').getAttribute('data-state')) === 'succeeded',
          10_000,
          'the final state on the page'
        );
        assert.match((await page.locator('#validation-epoch').textContent()) ?? '', /the final model/);
        const cells = await page.locator('#confusion td').allTextContents();
        assert.equal(cells.length, 100);
        assert.equal(
          cells.reduce((sum, cell) => sum + Number(cell), 0),
          40,
          'every validation image counted once'
        );
        assert.equal(await page.locator('#per-class tr').count(), 11);
        assert.match((await page.locator('#validation-epoch').textContent()) ?? '', /epoch 2/);
        assert.match(
          (await page.locator('#rank-times').textContent()) ?? '',
          /rank 0 \((tensorflow|wasm)\).*rank 1 \((tensorflow|wasm)\)/
        );
        assert.ok(Number(await page.locator('#epoch-chart').getAttribute('data-points')) === 2);
        assert.deepEqual(pageErrors, []);

        await mkdir(artifacts, { recursive: true });
        const screenshot = path.join(artifacts, 'dashboard.png');
        await page.screenshot({ path: screenshot, fullPage: true });
        t.diagnostic(`dashboard screenshot: ${screenshot}`);
        process.stderr.write(`dashboard screenshot: ${screenshot}\n`);

        const metrics = JSON.parse(await readFile(path.join(out, 'metrics.json'), 'utf8')) as {
          plan: { iterationsPerEpoch: number; backend: { perRank: string[] } };
          steps: unknown[];
          rankStepSeconds: { rank: number }[];
          validation: {
            epoch: number;
            classes: string[];
            confusion: number[][];
            perClass: { className: string; accuracy: number | null }[];
          };
          final: { valAccuracy: number };
        };
        assert.equal(metrics.plan.iterationsPerEpoch, 10);
        const backend = metrics.plan.backend.perRank[0];
        assert.ok(backend === 'tensorflow' || backend === 'wasm', `rank 0 ran ${backend}`);
        assert.deepEqual(metrics.plan.backend.perRank, [backend, backend]);
        assert.equal(metrics.steps.length, 20);
        assert.deepEqual(
          metrics.rankStepSeconds.map((each) => each.rank),
          [0, 1]
        );
        assert.equal(metrics.validation.epoch, 1);
        assert.deepEqual(metrics.validation.classes, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
        const diagonal = metrics.validation.confusion.reduce((sum, row, index) => sum + row[index]!, 0);
        assert.equal(diagonal / 40, metrics.final.valAccuracy, 'the matrix agrees with the reported accuracy');
      } finally {
        await browser?.close();
        await rm(profile, { recursive: true, force: true });
        child.kill('SIGKILL');
      }
    }
  );
});
