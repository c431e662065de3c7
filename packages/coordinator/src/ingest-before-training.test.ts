import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { encodeGreyscalePng, manifestKey, parseManifest } from '@ringtrain/dataset';
import { pino, type Logger } from 'pino';
import { Coordinator } from './coordinator.js';
import type { RunStatus } from './records.js';
import { DatasetIngestError, ingestIfNeeded } from './ingest-before-training.js';
import { parseRunConfig, type RunConfigInput } from '@ringtrain/protocol';
import { freePort } from '@ringtrain/testing';

const TOKEN = 'a-test-token-of-enough-length';

/** A logger whose lines the test reads back. */
function recordingLogger(): { logger: Logger; messages: () => { msg: string; [field: string]: unknown }[] } {
  const lines: string[] = [];
  const sink = new Writable({ write: (chunk: Buffer, _encoding, done) => (lines.push(chunk.toString()), done()) });
  return {
    logger: pino({ level: 'info' }, sink),
    messages: () => lines.map((line) => JSON.parse(line) as { msg: string })
  };
}

describe('a coordinator whose run ingests its dataset first', () => {
  let work = '';
  let source = '';
  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-coordinator-ingest-'));
    source = path.join(work, 'raw');
    for (const [index, name] of ['circle', 'square', 'star'].entries()) {
      await mkdir(path.join(source, name), { recursive: true });
      for (let i = 0; i < 6; i += 1)
        await writeFile(
          path.join(source, name, `${i}.png`),
          encodeGreyscalePng(new Uint8Array(64).fill(40 + 80 * index + i), 8, 8)
        );
    }
    await writeFile(
      path.join(source, 'star', 'broken.png'),
      encodeGreyscalePng(new Uint8Array(64).fill(9), 8, 8).subarray(0, 40)
    );
    await writeFile(path.join(source, 'README.txt'), 'shapes');
  });
  after(() => rm(work, { recursive: true, force: true }));

  function config(name: string, overrides: Partial<RunConfigInput> = {}) {
    return parseRunConfig(
      {
        runId: name,
        dataset: path.join(work, name, 'dataset'),
        out: path.join(work, name, 'out'),
        workers: 2,
        epochs: 2,
        batchSize: 2,
        partitions: 2,
        training: { optimizer: { kind: 'adam', lr: 0.001 } },
        lrSchedule: { kind: 'cosine' },
        cacheDir: work,
        ingest: { source, valFraction: 0.2, seed: 4 },
        ...overrides
      },
      'the test'
    );
  }

  it('ingests before it starts, so the manifest exists and the plan and the resolved configuration come from it', async () => {
    const { logger, messages } = recordingLogger();
    const runConfig = config('fresh');
    // The port a pod's probes and the operator use: the ingest answers on it first, then the coordinator proper.
    const httpPort = await freePort();
    const coordinator = await Coordinator.start({ config: runConfig, token: TOKEN, logger, httpPort });
    after(() => coordinator.close());
    assert.equal(coordinator.httpAddress, `http://127.0.0.1:${httpPort}`);
    const manifest = parseManifest(await readFile(path.join(runConfig.dataset, manifestKey)), 'manifest');
    assert.deepEqual(manifest.classes, ['circle', 'square', 'star']);
    assert.deepEqual(
      manifest.ingest.corrupt.map((item) => item.path),
      ['star/broken.png']
    );
    assert.equal(manifest.ingest.seed, 4);
    assert.equal(manifest.splits.val.count, 3, 'round(6 × 0.2) = 1 image of each class held out');

    const plan = ((await (await fetch(`${coordinator.httpAddress}/status`)).json()) as RunStatus).plan;
    assert.ok(plan, 'the plan is described from the freshly written manifest');
    assert.deepEqual(plan.dataset.classes, ['circle', 'square', 'star']);
    assert.equal(plan.dataset.trainImages, 15);
    assert.equal(plan.dataset.valImages, 3);
    assert.equal(plan.iterationsPerEpoch, 4, '15 images ÷ global batch 4 = 3 full iterations and a short one');

    const said = messages().map((line) => line.msg);
    const order = [
      'ingesting the dataset before training',
      'ingest: source scanned',
      'ingest: skipped a corrupt image',
      'ingest: done',
      'coordinator listening'
    ].map((msg) => said.indexOf(msg));
    assert.ok(
      order.every((at, i) => at >= 0 && (i === 0 || at > order[i - 1]!)),
      `ingest is logged, in order, before the coordinator listens: ${said.join(' | ')}`
    );
    assert.ok(
      messages().some(
        (line) => line.msg === 'ingest: ignored files that are not JPEG, PNG or WebP' && line.ignored === 1
      )
    );
    const scanned = messages().find((line) => line.msg === 'ingest: source scanned');
    assert.ok(
      Number(scanned?.decodes) >= 1 && /per CPU/.test(String(scanned?.decodesWhy)),
      'it says how many images it decodes at once, and why'
    );
  });

  it('a restarted coordinator finds the dataset complete and does not ingest again; one with a shard gone re-uploads only that shard', async () => {
    const runConfig = config('restarted');
    await ingestIfNeeded(runConfig, pino({ level: 'silent' }));
    const manifestFile = path.join(runConfig.dataset, manifestKey);
    const written = (await stat(manifestFile)).mtimeMs;

    const again = recordingLogger();
    await ingestIfNeeded(runConfig, again.logger);
    assert.equal((await stat(manifestFile)).mtimeMs, written);
    assert.deepEqual(
      again.messages().map((line) => line.msg),
      ['the dataset is already ingested: training starts']
    );

    const manifest = parseManifest(await readFile(manifestFile), 'manifest');
    await rm(path.join(runConfig.dataset, manifest.splits.train.shards[0]!.key));
    const repair = recordingLogger();
    await ingestIfNeeded(runConfig, repair.logger);
    const lines = repair.messages();
    assert.match(String(lines[0]?.why), /shard train\/shard-00000\.rtshard .* missing/);
    const done = lines.find((line) => line.msg === 'ingest: done');
    assert.equal(done?.shardsUploaded, 1);
    assert.deepEqual(parseManifest(await readFile(manifestFile), 'manifest'), manifest);
  });

  it('refuses a dataset URI that holds a dataset split otherwise, rather than overwriting what another run may train on', async () => {
    const runConfig = config('other-split');
    await ingestIfNeeded(runConfig, pino({ level: 'silent' }));
    const differently = config('other-split', { ingest: { source, valFraction: 0.2, seed: 5 } });
    await assert.rejects(
      Coordinator.start({ config: differently, token: TOKEN, logger: pino({ level: 'silent' }), httpPort: null }),
      (error: unknown) => {
        assert.ok(error instanceof DatasetIngestError);
        assert.match(error.message, /already holds a dataset split with seed 4 .* this run asks for seed 5/);
        return true;
      }
    );
  });

  it('fails to start, saying what and where, when the ingest fails', async () => {
    const runConfig = config('missing-source', {
      ingest: { source: path.join(work, 'no-such-folder'), valFraction: 0.1, seed: 0 }
    });
    await assert.rejects(
      Coordinator.start({ config: runConfig, token: TOKEN, logger: pino({ level: 'silent' }), httpPort: null }),
      (error: unknown) => {
        assert.ok(error instanceof DatasetIngestError);
        assert.match(
          error.message,
          /^ingesting .*no-such-folder into .*missing-source\/dataset failed: ingest source .* does not exist/
        );
        return true;
      }
    );
  });

  it('answers /status and /healthz while it ingests, so the operator sees progress rather than a stall, and frees the port after', async () => {
    let release = (): void => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    let url = '';
    const ingesting = ingestIfNeeded(config('serving'), pino({ level: 'silent' }), {
      serve: { host: '127.0.0.1', port: 0 },
      onServing: (served) => (url = served),
      ingest: async (options) => {
        options.onEvent?.({
          type: 'scanned',
          images: 40,
          classes: 2,
          ignoredFiles: [],
          decodes: 4,
          decodesReason: 'the test'
        });
        options.onEvent?.({
          type: 'progress',
          imagesDone: 16,
          imagesTotal: 40,
          shardsUploaded: 1,
          shardsSkipped: 2,
          bytesUploaded: 100
        });
        await gate;
        throw new Error('the test ends this ingest');
      }
    });
    while (url === '') await new Promise((resolve) => setTimeout(resolve, 10));
    const status = (await (await fetch(`${url}/status`)).json()) as Record<string, unknown>;
    assert.deepEqual(status, {
      runId: 'serving',
      state: 'ingesting',
      lastStep: null,
      ingest: { imagesDone: 16, imagesTotal: 40, shardsWritten: 3 }
    });
    assert.equal((await fetch(`${url}/healthz`)).status, 200, 'alive, so the Service routes the operator to it');
    assert.equal((await fetch(`${url}/`)).status, 503);
    release();
    await assert.rejects(ingesting, /ingesting .* failed: the test ends this ingest/);
    await assert.rejects(fetch(`${url}/status`), 'the port is free for the coordinator proper');
  });

  it('downscales as the run says (spec.dataset.ingest.maxResolution), else to twice the training image size as ringtrain train does', async () => {
    const asked: Array<number | undefined> = [];
    const capture = {
      ingest: async (options: { maxResolution?: number }) => (
        asked.push(options.maxResolution),
        Promise.reject(new Error('captured'))
      )
    };
    const cases: Array<[string, Partial<RunConfigInput>]> = [
      ['res-own', { ingest: { source, valFraction: 0.2, seed: 4, maxResolution: 300 } }],
      ['res-image-size', { training: { imageSize: 96 } }],
      ['res-default', {}],
      ['res-small', { training: { imageSize: 24 } }]
    ];
    for (const [name, overrides] of cases)
      await assert.rejects(ingestIfNeeded(config(name, overrides), pino({ level: 'silent' }), capture), /captured/);
    assert.deepEqual(asked, [300, 192, 448, 64]);
  });

  it('leaves a run without `ingest` alone', async () => {
    const { logger, messages } = recordingLogger();
    await ingestIfNeeded(config('no-ingest', { ingest: undefined }), logger);
    assert.deepEqual(messages(), []);
  });
});
