import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../run-cli.test-helper.js';
import { encodeGreyscalePng } from '@ringtrain/dataset';

describe('ringtrain ingest', () => {
  let work = '';
  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-cli-ingest-'));
    for (const [name, colour] of [
      ['apple', 60],
      ['pear', 200]
    ] as const) {
      await mkdir(path.join(work, 'src', name), { recursive: true });
      for (let i = 0; i < 5; i += 1)
        await writeFile(
          path.join(work, 'src', name, `${i}.png`),
          encodeGreyscalePng(new Uint8Array(12 * 10).fill(colour), 12, 10)
        );
    }
    await writeFile(path.join(work, 'src', 'pear', 'notes.md'), '# not an image');
  });
  after(() => rm(work, { recursive: true, force: true }));

  it('ingests a folder, prints a JSON summary, warns once about non-images, and writes the manifest', async () => {
    const to = path.join(work, 'out');
    const result = await runCli([
      'ingest',
      path.join(work, 'src'),
      '--to',
      to,
      '--val-fraction',
      '0.2',
      '--seed',
      '3',
      '--shard-size',
      '1KiB',
      '--json'
    ]);
    assert.equal(result.code, 0, result.stderr);
    const summary = JSON.parse(result.stdout) as Record<string, number>;
    assert.equal(summary.train, 8);
    assert.equal(summary.val, 2);
    assert.equal(summary.ignoredFiles, 1);
    assert.equal(result.stderr.match(/warning: ignored 1 non-image/g)?.length, 1);
    const manifest = JSON.parse(await readFile(path.join(to, 'manifest.json'), 'utf8')) as { classes: string[] };
    assert.deepEqual(manifest.classes, ['apple', 'pear']);
  });

  it('rejects a malformed size with a usage error naming the flag', async () => {
    const result = await runCli([
      'ingest',
      path.join(work, 'src'),
      '--to',
      path.join(work, 'x'),
      '--shard-size',
      'lots'
    ]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--shard-size: "lots" is not a size/);
  });

  it('fails with the reason when the source has no images', async () => {
    await mkdir(path.join(work, 'empty', 'only'), { recursive: true });
    await writeFile(path.join(work, 'empty', 'only', 'a.txt'), 'x');
    const result = await runCli(['ingest', path.join(work, 'empty'), '--to', path.join(work, 'y')]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /has no images/);
  });
});
