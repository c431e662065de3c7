import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { scanSource, type SourceListing } from './source-scan.js';

/** What a listing says, without its readers: classes, ignored files, and each item's path, label and bytes. */
async function describeListing(listing: SourceListing) {
  return {
    classes: listing.classes,
    ignored: [...listing.ignored].sort(),
    items: await Promise.all(
      listing.items.map(async (item) => ({
        sourcePath: item.sourcePath,
        label: item.label,
        bytes: (await item.read()).toString('hex')
      }))
    )
  };
}

const segment = fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,7}$/);
const treeArbitrary = fc.record({
  classes: fc.uniqueArray(
    fc.record({
      name: segment,
      images: fc.uniqueArray(
        fc.tuple(fc.option(segment, { nil: undefined }), segment, fc.constantFrom('jpg', 'JPEG', 'png', 'webp')),
        { minLength: 1, maxLength: 4, selector: ([dir, name, ext]) => `${dir ?? ''}/${name}.${ext.toLowerCase()}` }
      ),
      others: fc.uniqueArray(segment, { maxLength: 2 })
    }),
    { minLength: 1, maxLength: 4, selector: (entry) => entry.name }
  ),
  topLevel: fc.uniqueArray(segment, { maxLength: 2 })
});

describe('scanSource', () => {
  let work = '';
  before(async () => (work = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-scan-'))));
  after(() => rm(work, { recursive: true, force: true }));

  it('lists any ImageFolder tree the same whether it is read as a local folder or through a store URI', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(treeArbitrary, async (tree) => {
        const root = path.join(work, `tree-${(run += 1)}`);
        for (const { name, images, others } of tree.classes) {
          for (const [dir, file, extension] of images) {
            const relative = path.join(name, dir ?? '', `${file}.${extension}`);
            await mkdir(path.dirname(path.join(root, relative)), { recursive: true });
            await writeFile(path.join(root, relative), relative);
          }
          for (const other of others) await writeFile(path.join(root, name, `${other}.txt`), other);
        }
        for (const file of tree.topLevel) await writeFile(path.join(root, `${file}.md`), file);
        const local = await describeListing(await scanSource(root));
        const viaStore = await describeListing(await scanSource(pathToFileURL(root).href));
        assert.deepEqual(viaStore, local);
        assert.deepEqual(local.classes, tree.classes.map((entry) => entry.name).sort());
        assert.equal(
          local.ignored.length,
          tree.topLevel.length + tree.classes.reduce((sum, entry) => sum + entry.others.length, 0)
        );
        for (const item of local.items)
          assert.equal(Buffer.from(item.bytes, 'hex').toString(), item.sourcePath, 'each item reads its own bytes');
      }),
      { numRuns: 25 }
    );
  });

  it("refuses a local manifest row that leaves the manifest's folder, naming the row", async () => {
    const dir = path.join(work, 'escape', 'data');
    await mkdir(path.join(dir, 'pics'), { recursive: true });
    await writeFile(path.join(dir, 'pics', 'ok.png'), 'png');
    for (const row of ['../secret.png', '/etc/passwd.png', 'pics/../../secret.png']) {
      await writeFile(path.join(dir, 'list.csv'), `path,label\npics/ok.png,cat\n${row},dog\n`);
      await assert.rejects(scanSource(path.join(dir, 'list.csv')), (error: Error) => {
        assert.match(error.message, /leaves the manifest's folder/);
        assert.ok(error.message.includes(JSON.stringify(row)), error.message);
        return true;
      });
    }
    await writeFile(path.join(dir, 'list.csv'), 'path,label\npics/ok.png,cat\n./pics/ok.png,dog\n');
    assert.equal((await scanSource(path.join(dir, 'list.csv'))).items.length, 2, 'inside the folder is fine');
  });

  it('skips hidden class folders in both kinds of source', async () => {
    const root = path.join(work, 'hidden');
    await mkdir(path.join(root, '.cache'), { recursive: true });
    await mkdir(path.join(root, 'cat'), { recursive: true });
    await writeFile(path.join(root, '.cache', 'x.png'), 'x');
    await writeFile(path.join(root, 'cat', 'a.png'), 'a');
    for (const source of [root, pathToFileURL(root).href]) {
      const listing = await scanSource(source);
      assert.deepEqual(listing.classes, ['cat']);
      assert.deepEqual(
        listing.items.map((item) => item.sourcePath),
        ['cat/a.png']
      );
    }
  });
});
