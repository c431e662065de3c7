import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { pngSize } from './png.js';
import { demoMetricsText, demoRunDir, tinyRunDir } from './testdata/fixtures.js';

const bin = fileURLToPath(new URL('../../../bin/ringtrain.mjs', import.meta.url));
const report = (...args: string[]) => spawnSync(process.execPath, [bin, 'report', ...args], { encoding: 'utf8' });

describe('ringtrain report', () => {
  let work = '';
  before(async () => (work = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-report-'))));
  after(() => rm(work, { recursive: true, force: true }));

  it("writes the HTML report and the curves' PNG from a run directory", async () => {
    const html = path.join(work, 'out', 'report.html');
    const png = path.join(work, 'out', 'curves.png');
    const result = report(demoRunDir, '--out', html, '--png', png);
    assert.equal(result.status, 0, result.stderr);
    assert.match(
      result.stdout,
      /report of run-20261127125402-0fc9d5 \(succeeded, 4 epochs\) written to .*report\.html\ncurves written to .*curves\.png \(\d+×\d+ PNG\)\n/
    );
    assert.match(await readFile(html, 'utf8'), /<h2>Curves<\/h2>/);
    assert.ok(pngSize(await readFile(png)) !== undefined);
  });

  it('takes the metrics.json file itself, or a file:// URI, and prints one JSON object with --json', async () => {
    for (const location of [path.join(demoRunDir, 'metrics.json'), `file://${demoRunDir}`]) {
      const result = report(location, '--out', path.join(work, 'direct.html'), '--json');
      assert.equal(result.status, 0, result.stderr);
      const printed = JSON.parse(result.stdout) as { html: string; png: string | null; valAccuracy: number };
      assert.deepEqual([printed.html, printed.png, printed.valAccuracy], [path.join(work, 'direct.html'), null, 0.9]);
    }
  });

  it('adds the confusion matrix that ringtrain eval measured, given its --out file', async () => {
    const html = path.join(work, 'with-eval.html');
    const result = report(tinyRunDir, '--out', html, '--eval', path.join(tinyRunDir, 'eval.json'));
    assert.equal(result.status, 0, result.stderr);
    const page = await readFile(html, 'utf8');
    assert.match(page, /From ringtrain eval on the val split of \S+ \(120 images\)/);
    assert.match(page, /<h2>The run plan<\/h2>/);
  });

  it('names the problem and the fix when the run directory, metrics.json or its content is wrong', async () => {
    const missingDir = report(path.join(work, 'no-such-run'), '--out', path.join(work, 'x.html'));
    assert.equal(missingDir.status, 1);
    assert.match(missingDir.stderr, /no-such-run: no such directory; give a run's --out directory/);

    const unfinished = path.join(work, 'unfinished');
    await mkdir(unfinished);
    const noMetrics = report(unfinished, '--out', path.join(work, 'x.html'));
    assert.equal(noMetrics.status, 1);
    assert.match(
      noMetrics.stderr,
      /unfinished\/metrics\.json does not exist: metrics\.json is written when a run ends/
    );

    const damaged = path.join(work, 'damaged');
    await mkdir(damaged);
    await writeFile(
      path.join(damaged, 'metrics.json'),
      demoMetricsText.replace('"epochs": [', '"epochs": 4, "was": [')
    );
    const malformed = report(damaged, '--out', path.join(work, 'x.html'));
    assert.equal(malformed.status, 1);
    assert.match(
      malformed.stderr,
      /damaged\/metrics\.json is not a run's metrics\.json as ringtrain writes it:\n  epochs: /
    );

    const missingEval = report(demoRunDir, '--out', path.join(work, 'x.html'), '--eval', path.join(work, 'eval.json'));
    assert.equal(missingEval.status, 1);
    assert.match(missingEval.stderr, /--eval .*eval\.json does not exist: write it with `ringtrain eval <run> --out/);
  });
});
