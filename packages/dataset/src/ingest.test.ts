import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { FileStore } from './file-store.js';
import { ingest, type IngestEvent } from './ingest.js';
import { manifestKey, parseManifest } from './manifest.js';
import type { ObjectStore } from './object-store.js';
import { decodeShardIndex } from './shard-format.js';
import { classColours, imageBytes, makeImageFolder } from './test-images.test-helper.js';

describe('ingest', () => {
  let work = '';
  let source = '';
  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-ingest-'));
    source = await makeImageFolder(path.join(work, 'src'), {
      classes: { daisy: 10, tulip: 6, rose: 4 },
      corrupt: true,
      nonImage: true
    });
  });
  after(() => rm(work, { recursive: true, force: true }));

  it('packs an ImageFolder into shards and a manifest, skipping the corrupt image and ignoring non-images', async () => {
    const events: IngestEvent[] = [];
    const to = path.join(work, 'out-basic');
    const summary = await ingest({
      source,
      to,
      valFraction: 0.25,
      seed: 7,
      shardSizeBytes: 1_500,
      onEvent: (event) => events.push(event)
    });
    const manifest = parseManifest(await readFile(path.join(to, manifestKey)), 'manifest');
    assert.deepEqual(manifest.classes, ['daisy', 'rose', 'tulip']);
    assert.equal(summary.corrupt.length, 1);
    assert.equal(summary.corrupt[0]!.path, 'daisy/broken.jpg');
    assert.equal(summary.ignoredFiles, 1);
    // Stratified: round(n · 0.25) listed images per class go to validation; daisy's 3 may include the corrupt one.
    assert.deepEqual(manifest.splits.val.classCounts.slice(1), [1, 2]);
    assert.ok([2, 3].includes(manifest.splits.val.classCounts[0]!));
    assert.deepEqual(
      manifest.splits.train.classCounts.map((n, i) => n + manifest.splits.val.classCounts[i]!),
      [10, 4, 6]
    );
    assert.equal(manifest.splits.train.count + manifest.splits.val.count, 20);
    assert.ok(manifest.splits.train.shards.length > 1, 'a small shard size must give several shards');
    assert.ok(events.some((event) => event.type === 'scanned' && event.ignoredFiles.length === 1));

    for (const shardInfo of [...manifest.splits.train.shards, ...manifest.splits.val.shards]) {
      const shard = await readFile(path.join(to, shardInfo.key));
      assert.equal(shard.length, shardInfo.bytes);
      assert.equal(createHash('sha256').update(shard).digest('hex'), shardInfo.sha256);
      const index = decodeShardIndex(shard, shard.length);
      assert.equal(index.length, shardInfo.sampleCount);
      for (const entry of index) {
        // The stored bytes decode to the colour of the class the label names.
        const className = manifest.classes[entry.label]!;
        assert.ok(entry.sourcePath.startsWith(`${className}/`));
        const { data } = await sharp(shard.subarray(entry.offset, entry.offset + entry.length))
          .raw()
          .toBuffer({ resolveWithObject: true });
        const expected = classColours[['daisy', 'tulip', 'rose'].indexOf(className)]!;
        for (let c = 0; c < 3; c += 1) assert.ok(Math.abs(data[c]! - expected[c]!) < 8, `${entry.sourcePath} colour`);
        assert.deepEqual([entry.width, entry.height], [40, 30]);
      }
    }
  });

  it('is deterministic and a re-run uploads only shards that are missing or differ', async () => {
    const to = path.join(work, 'out-rerun');
    const first = await ingest({ source, to, seed: 3, shardSizeBytes: 1_500 });
    const again = await ingest({ source, to, seed: 3, shardSizeBytes: 1_500 });
    assert.deepEqual(again.manifest, first.manifest);
    assert.equal(again.shardsUploaded, 0);
    assert.equal(again.shardsSkipped, first.shardsUploaded);

    const damaged = first.manifest.splits.train.shards[1]!.key;
    const bytes = await readFile(path.join(to, damaged));
    bytes[bytes.length - 1]! ^= 0xff;
    await writeFile(path.join(to, damaged), bytes);
    const repaired = await ingest({ source, to, seed: 3, shardSizeBytes: 1_500 });
    assert.equal(repaired.shardsUploaded, 1);
    assert.equal(
      createHash('sha256')
        .update(await readFile(path.join(to, damaged)))
        .digest('hex'),
      first.manifest.splits.train.shards[1]!.sha256
    );
  });

  it('writes manifest.json after every shard', async () => {
    const puts: string[] = [];
    const inner = new FileStore(path.join(work, 'out-order'));
    const recording: ObjectStore = Object.assign(Object.create(inner) as FileStore, {
      put: async (key: string, body: Buffer) => {
        await inner.put(key, body);
        puts.push(key);
      }
    });
    await ingest({ source, to: 'unused', store: recording, shardSizeBytes: 2_000, uploadConcurrency: 3 });
    assert.ok(puts.length > 3);
    assert.equal(puts.at(-1), manifestKey);
    assert.equal(puts.filter((key) => key === manifestKey).length, 1);
  });

  it('downscales at ingest when asked, keeping the aspect ratio, and still finds corrupt images', async () => {
    const big = await makeImageFolder(path.join(work, 'big'), {
      classes: { a: 2, b: 2 },
      width: 300,
      height: 150,
      format: 'png',
      corrupt: true
    });
    const to = path.join(work, 'out-small');
    const summary = await ingest({ source: big, to, valFraction: 0, maxResolution: 48 });
    assert.deepEqual(
      summary.corrupt.map((item) => item.path),
      ['a/broken.jpg']
    );
    const shard = await readFile(path.join(to, summary.manifest.splits.train.shards[0]!.key));
    for (const entry of decodeShardIndex(shard)) {
      assert.deepEqual([entry.width, entry.height], [48, 24]);
      const meta = await sharp(shard.subarray(entry.offset, entry.offset + entry.length)).metadata();
      assert.deepEqual([meta.width, meta.height, meta.format], [48, 24, 'jpeg']);
    }
  });

  it('reads CSV and JSONL manifests of path,label with paths relative to the manifest', async () => {
    const dir = path.join(work, 'listed');
    await mkdir(path.join(dir, 'pics'), { recursive: true });
    await writeFile(path.join(dir, 'pics', 'x.webp'), await imageBytes([9, 9, 9], 20, 20, 'webp'));
    await writeFile(path.join(dir, 'pics', 'y.png'), await imageBytes([200, 9, 9], 20, 20, 'png'));
    await writeFile(path.join(dir, 'list.csv'), 'path,label\npics/x.webp,cat\n"pics/y.png",dog\nnotes.txt,dog\n');
    await writeFile(
      path.join(dir, 'list.jsonl'),
      '{"path":"pics/x.webp","label":"cat"}\n{"path":"pics/y.png","label":"dog"}\n'
    );
    for (const file of ['list.csv', 'list.jsonl']) {
      const summary = await ingest({
        source: path.join(dir, file),
        to: path.join(work, `out-${file}`),
        valFraction: 0
      });
      assert.deepEqual(summary.manifest.classes, ['cat', 'dog']);
      assert.equal(summary.manifest.splits.train.count, 2);
    }
  });

  it('refuses an empty class folder and a tree without images, saying which', async () => {
    const empty = await makeImageFolder(path.join(work, 'empty-class'), { classes: { full: 2 } });
    await mkdir(path.join(empty, 'hollow'));
    await assert.rejects(
      ingest({ source: empty, to: path.join(work, 'out-x') }),
      /class folder .*hollow has no images/
    );
    const none = path.join(work, 'none');
    await mkdir(path.join(none, 'a'), { recursive: true });
    await writeFile(path.join(none, 'a', 'doc.txt'), 'x');
    await assert.rejects(ingest({ source: none, to: path.join(work, 'out-y') }), /has no images/);
    await assert.rejects(
      ingest({ source: path.join(work, 'missing'), to: path.join(work, 'out-z') }),
      /does not exist/
    );
  });
});

describe('ingest from a store URI (file:// here; s3:// in ingest.integration.test.ts)', () => {
  let work = '';
  let source = '';
  let sourceUri = '';
  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-ingest-store-'));
    source = await makeImageFolder(path.join(work, 'src'), {
      classes: { daisy: 9, tulip: 5, rose: 3 },
      corrupt: true,
      nonImage: true
    });
    sourceUri = pathToFileURL(source).href;
  });
  after(() => rm(work, { recursive: true, force: true }));

  it('packs the same shards and manifest as from the folder itself, listing the corrupt image and warning once about non-images', async () => {
    const options = { valFraction: 0.3, seed: 5, shardSizeBytes: 1_200 };
    const fromFolder = await ingest({ source, to: path.join(work, 'out-folder'), ...options });
    const events: IngestEvent[] = [];
    const fromStore = await ingest({
      source: sourceUri,
      to: path.join(work, 'out-store'),
      ...options,
      onEvent: (event) => events.push(event)
    });
    assert.deepEqual(fromStore.manifest, fromFolder.manifest);
    assert.deepEqual(
      fromStore.corrupt.map((item) => item.path),
      ['daisy/broken.jpg']
    );
    assert.deepEqual(
      events.filter((event) => event.type === 'scanned').map((event) => event.type === 'scanned' && event.ignoredFiles),
      [['daisy/README.txt']]
    );
    assert.deepEqual(events.filter((event) => event.type === 'corrupt').length, 1);
  });

  it('resumes: a re-run uploads only the shards that are missing', async () => {
    const to = path.join(work, 'out-resume');
    const first = await ingest({ source: sourceUri, to, seed: 2, shardSizeBytes: 1_200 });
    await rm(path.join(to, first.manifest.splits.train.shards[0]!.key));
    await rm(path.join(to, manifestKey));
    const again = await ingest({ source: sourceUri, to, seed: 2, shardSizeBytes: 1_200 });
    assert.deepEqual(again.manifest, first.manifest);
    assert.equal(again.shardsUploaded, 1);
    assert.equal(again.shardsSkipped, first.shardsUploaded - 1);
  });

  it('reads a manifest object, with row paths relative to its folder, and refuses rows that leave it', async () => {
    await writeFile(path.join(source, 'labels.csv'), 'path,label\ndaisy/img-000.jpg,daisy\ntulip/img-001.jpg,tulip\n');
    const summary = await ingest({
      source: `${sourceUri}/labels.csv`,
      to: path.join(work, 'out-listed'),
      valFraction: 0
    });
    assert.deepEqual(summary.manifest.classes, ['daisy', 'tulip']);
    assert.equal(summary.manifest.splits.train.count, 2);
    await writeFile(path.join(source, 'escape.jsonl'), '{"path":"../elsewhere/x.png","label":"a"}\n');
    await assert.rejects(
      ingest({ source: `${sourceUri}/escape.jsonl`, to: path.join(work, 'out-escape') }),
      /leaves the manifest's folder/
    );
    await rm(path.join(source, 'labels.csv'));
    await rm(path.join(source, 'escape.jsonl'));
  });

  it('refuses an empty prefix, a prefix without class folders, and a class without images, naming the URI', async () => {
    const empty = path.join(work, 'empty');
    await mkdir(empty);
    await assert.rejects(
      ingest({ source: pathToFileURL(empty).href, to: path.join(work, 'out-a') }),
      /holds no objects/
    );
    await writeFile(path.join(empty, 'notes.txt'), 'x');
    await assert.rejects(
      ingest({ source: pathToFileURL(empty).href, to: path.join(work, 'out-b') }),
      /no class folders in file:\/\//
    );
    await makeImageFolder(empty, { classes: { full: 2 } });
    await mkdir(path.join(empty, 'hollow'));
    await writeFile(path.join(empty, 'hollow', 'README.txt'), 'no images here');
    await assert.rejects(
      ingest({ source: pathToFileURL(empty).href, to: path.join(work, 'out-c') }),
      /class folder file:\/\/.*\/hollow has no images/
    );
  });
});
