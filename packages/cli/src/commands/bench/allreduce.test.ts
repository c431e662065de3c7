import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from '../../run-cli.test-helper.js';

test('bench allreduce --tls runs the ring over mutual TLS with a run identity and says so', async () => {
  const { code, stdout, stderr } = await runCli([
    'bench',
    'allreduce',
    '--workers',
    '2',
    '--mib',
    '1',
    '--iters',
    '2',
    '--warmup',
    '1',
    '--tls',
    '--json'
  ]);
  assert.equal(code, 0, stderr);
  const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { tls?: boolean; medianMs?: number };
  assert.equal(result.tls, true);
  assert.ok((result.medianMs ?? 0) > 0);
});

test('bench allreduce --stripes 2 cuts the buffer over two links per edge, each on its own thread, and the sums check', async () => {
  const { code, stdout, stderr } = await runCli([
    'bench',
    'allreduce',
    '--workers',
    '2',
    '--mib',
    '4',
    '--iters',
    '2',
    '--warmup',
    '1',
    '--stripes',
    '2',
    '--json'
  ]);
  assert.equal(code, 0, stderr);
  const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { stripes?: number; thread?: boolean };
  assert.equal(result.stripes, 2);
  assert.equal(result.thread, true);
});
