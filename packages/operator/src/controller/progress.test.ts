import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { parseTrainingRun } from '../api/validate.js';
import { sampleRunInput } from '../api/sample-run.test-helper.js';
import {
  CoordinatorStatusError,
  httpProgressSource,
  progressFromCoordinatorStatus,
  readCoordinatorStatus
} from './progress.js';

describe('progressFromCoordinatorStatus', () => {
  it("maps the coordinator's last step and newest checkpoint", () => {
    const status = {
      runId: 'default/flowers',
      state: 'running',
      lastStep: {
        epoch: 3,
        epochStep: 5,
        globalStep: 305,
        loss: 0.42,
        accuracy: 0.88,
        imagesPerSecond: 1234.5,
        images: 64
      },
      checkpoints: [
        { key: 'ckpt-a', globalStep: 200, at: '2026-11-27T10:00:00Z', epoch: 2, bytes: 1, samplesConsumed: 1 },
        { key: 'ckpt-b', globalStep: 300, at: '2026-11-27T10:05:00Z', epoch: 3, bytes: 1, samplesConsumed: 1 }
      ]
    };
    assert.deepEqual(progressFromCoordinatorStatus(status, 's3://runs/flowers/checkpoints/'), {
      progress: {
        epoch: 3,
        step: 305,
        loss: 0.42,
        accuracy: 0.88,
        imagesPerSecond: 1234.5,
        lastCheckpoint: { uri: 's3://runs/flowers/checkpoints/ckpt-b', step: 300, time: '2026-11-27T10:05:00Z' }
      }
    });
  });

  it('maps the ingest progress a coordinator serves before training (spec.dataset.ingest)', () => {
    const status = {
      runId: 'default/flowers',
      state: 'ingesting',
      lastStep: null,
      ingest: { imagesDone: 1200, imagesTotal: 3670, shardsWritten: 2 }
    };
    assert.deepEqual(progressFromCoordinatorStatus(status, 's3://x'), {
      ingest: { imagesDone: 1200, imagesTotal: 3670, shardsWritten: 2 }
    });
  });

  it("summarizes the coordinator's run plan in the crash course's words, before the first step too", () => {
    const plan = {
      dataset: {
        uri: 's3://datasets/instruments',
        classes: Array.from({ length: 30 }, (_, i) => `class-${i}`),
        images: 4800,
        trainImages: 3840,
        valImages: 960
      },
      workers: 2,
      batchPerWorker: 32,
      globalBatch: 64,
      iterationsPerEpoch: 60,
      epochs: 5,
      totalIterations: 300,
      optimizer: { kind: 'adam', learningRate: 0.001, schedule: 'constant', momentum: null, weightDecay: 0 },
      imageSize: 224
    };
    assert.deepEqual(progressFromCoordinatorStatus({ state: 'rendezvous', lastStep: null, plan }, 's3://x'), {
      plan: {
        summary:
          '30 classes; 3840 training and 960 validation images; 2 workers × 32 images = global batch 64; 60 iterations per epoch × 5 epochs = 300 iterations; Adam at learning rate 0.001 (constant)',
        classes: 30,
        trainImages: 3840,
        valImages: 960,
        globalBatch: 64,
        iterationsPerEpoch: 60,
        totalIterations: 300
      }
    });
  });

  it('passes on the workers the watchdog declared hung, bounded like the gang', () => {
    const hung = {
      workerId: 'flowers-worker-1',
      rank: 1,
      since: '2026-11-27T10:00:30.000Z',
      reason: 'worker flowers-worker-1 (rank 1) sent no heartbeat for 60.2 s: hung or unreachable'
    };
    assert.deepEqual(
      progressFromCoordinatorStatus({ state: 'rendezvous', lastStep: null, hungWorkers: [hung] }, 's3://x'),
      { hung: [hung] }
    );
    assert.equal(
      progressFromCoordinatorStatus({ state: 'running', lastStep: null, hungWorkers: [] }, 's3://x'),
      undefined
    );
    assert.equal(
      progressFromCoordinatorStatus(
        { state: 'rendezvous', lastStep: null, hungWorkers: Array.from({ length: 257 }, () => hung) },
        's3://x'
      ),
      undefined
    );
  });

  it('says nothing before the first step or for a body it does not understand', () => {
    assert.equal(
      progressFromCoordinatorStatus({ state: 'rendezvous', lastStep: null, plan: null }, 's3://x'),
      undefined
    );
    assert.equal(progressFromCoordinatorStatus('<html>', 's3://x'), undefined);
  });
});

describe("reading a coordinator's /status, which runs the user's image", () => {
  let server: http.Server;
  let base = '';
  /** Per path, whether the server saw the operator hang up before it had sent everything. */
  const hungUp = new Map<string, boolean>();
  const status = { state: 'running', lastStep: { epoch: 1, globalStep: 12, loss: 0.5 }, checkpoints: [] };

  before(async () => {
    server = http.createServer((request, response) => {
      const path = request.url ?? '/';
      response.on('close', () => hungUp.set(path, !response.writableFinished));
      if (path === '/ok') {
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(status));
      } else if (path === '/endless') {
        // Chunked, no length: only counting the bytes as they come stops it.
        response.writeHead(200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        const pump = () => {
          while (!response.destroyed && response.write(chunk));
          if (!response.destroyed) response.once('drain', pump);
        };
        pump();
      } else if (path === '/declared-large') {
        response.writeHead(200, { 'content-type': 'application/json', 'content-length': String(64 * 1024 * 1024) });
        response.write('{"state":');
      } else if (path === '/slow-body') {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.write('{"state": "running", ');
      } else if (path === '/slow-headers') {
        // Never answers.
      } else if (path === '/not-json') {
        response.writeHead(200, { 'content-type': 'text/html' }).end('<html>an error page</html>');
      } else if (path === '/wrong-shape') {
        response
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ lastStep: { epoch: 'one', globalStep: 12 } }));
      } else {
        response.writeHead(500).end('boom');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function failure(
    path: string,
    options: { maxBytes?: number; timeoutMs?: number } = {}
  ): Promise<CoordinatorStatusError> {
    const error = await readCoordinatorStatus(`${base}${path}`, options).then(
      () => undefined,
      (e: unknown) => e
    );
    assert.ok(error instanceof CoordinatorStatusError, `${path}: ${String(error)}`);
    return error;
  }

  it('parses a well-formed answer', async () => {
    assert.deepEqual(await readCoordinatorStatus(`${base}/ok`), status);
  });

  it('stops reading an endless body past its bound and hangs up', async () => {
    const error = await failure('/endless', { maxBytes: 1024 * 1024 });
    assert.equal(error.code, 'too-large');
    assert.match(error.message, /more than 1048576 bytes/);
    await waitFor(() => hungUp.get('/endless') === true);
  });

  it('refuses a body whose declared length is past the bound without reading it', async () => {
    const error = await failure('/declared-large');
    assert.equal(error.code, 'too-large');
  });

  it('gives up on a body that does not finish in time, and on headers that never come', async () => {
    const started = Date.now();
    const body = await failure('/slow-body', { timeoutMs: 300 });
    assert.equal(body.code, 'timeout');
    assert.match(body.message, /within 300 ms/);
    const headers = await failure('/slow-headers', { timeoutMs: 300 });
    assert.equal(headers.code, 'timeout');
    assert.ok(Date.now() - started < 3000, 'both within their bound');
    await waitFor(() => hungUp.get('/slow-body') === true);
  });

  it('says what is wrong with a body that is not JSON, or not the shape of /status', async () => {
    const html = await failure('/not-json');
    assert.equal(html.code, 'malformed');
    assert.match(html.message, /not JSON.*<html>/);
    const source = httpProgressSource({ url: () => `${base}/wrong-shape`, logger: silent });
    assert.match(
      (await source(run))?.unreadable ?? '',
      /wrong-shape is not the coordinator's \/status: lastStep\.epoch/
    );
    assert.match(warnings.at(-1) ?? '', /not the coordinator's \/status: lastStep\.epoch/);
  });

  it('as a progress source: never throws, warns about a bad answer and says why, and is quiet about one not up yet', async () => {
    warnings.length = 0;
    for (const [path, why] of [
      ['/endless', /more than 1048576 bytes/],
      ['/not-json', /not JSON/],
      ['/missing', /HTTP 500/]
    ] as const) {
      const report = await httpProgressSource({ url: () => `${base}${path}`, logger: silent, maxBytes: 1024 * 1024 })(
        run
      );
      assert.deepEqual(Object.keys(report ?? {}), ['unreadable'], `${path}: only why, no progress`);
      assert.match(report?.unreadable ?? '', why);
    }
    assert.equal(warnings.length, 3);
    assert.match(warnings[2] ?? '', /HTTP 500.*keeps its last progress/);
    assert.equal(
      await httpProgressSource({ url: () => 'http://127.0.0.1:1/status', logger: silent })(run),
      undefined,
      'a coordinator not up yet is no news'
    );
    assert.equal(warnings.length, 3, 'unreachable is debug, not a warning');
    assert.deepEqual(await httpProgressSource({ url: () => `${base}/ok`, logger: silent })(run), {
      progress: { epoch: 1, step: 12, loss: 0.5 }
    });
  });
});

const run = parseTrainingRun(sampleRunInput());
const warnings: string[] = [];
const silent = { debug: () => undefined, warn: (_: unknown, message: string) => void warnings.push(message) };

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.ok(condition());
}
