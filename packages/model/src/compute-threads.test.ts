import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseComputeThreads } from './compute-threads.js';

const files =
  (entries: Record<string, string>) =>
  (path: string): string | undefined =>
    entries[path];

test('a pod limited to 4 CPUs on a 64-core node computes with 4 threads, not 64', () => {
  const threads = chooseComputeThreads({
    cores: 64,
    readCgroupFile: files({ '/sys/fs/cgroup/cpu.max': '400000 100000\n' })
  });
  assert.deepEqual(threads, { intraOp: 4, interOp: 1, reason: 'a cgroup CPU quota of 4 CPUs on 64 cores' });
});

test('local workers share the cores: 2 cores and 2 workers give each one thread', () => {
  const threads = chooseComputeThreads({ cores: 2, localWorkers: 2, readCgroupFile: files({}) });
  assert.deepEqual(threads, { intraOp: 1, interOp: 1, reason: '2 cores shared by 2 local workers' });
});

test('an explicit count wins, and a bad one is refused with the accepted values', () => {
  assert.equal(chooseComputeThreads({ requested: 3, cores: 2 }).intraOp, 3);
  assert.throws(() => chooseComputeThreads({ requested: 0 }), /positive integer, got 0/);
});

test('more local workers than cores still get one thread each', () => {
  assert.equal(chooseComputeThreads({ cores: 8, localWorkers: 16, readCgroupFile: files({}) }).intraOp, 1);
});

test('a fractional quota (500m) computes with one thread', () => {
  assert.equal(
    chooseComputeThreads({ cores: 8, readCgroupFile: files({ '/sys/fs/cgroup/cpu.max': '50000 100000' }) }).intraOp,
    1
  );
});
