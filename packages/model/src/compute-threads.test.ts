import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cgroupCpuQuota, chooseComputeThreads } from './compute-threads.js';

const files = (entries: Record<string, string>) => (path: string): string | undefined => entries[path];

test('a pod limited to 4 CPUs on a 64-core node computes with 4 threads, not 64', () => {
  const threads = chooseComputeThreads({ cores: 64, readCgroupFile: files({ '/sys/fs/cgroup/cpu.max': '400000 100000\n' }) });
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

test('cgroup quotas: v2 max is no limit, v1 quota -1 is no limit, a fraction still gets one thread', () => {
  assert.equal(cgroupCpuQuota(files({ '/sys/fs/cgroup/cpu.max': 'max 100000' })), undefined);
  assert.equal(cgroupCpuQuota(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000' })), undefined);
  assert.equal(cgroupCpuQuota(files({ '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '250000', '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000' })), 2);
  assert.equal(cgroupCpuQuota(files({ '/sys/fs/cgroup/cpu.max': '50000 100000' })), 1);
  assert.equal(chooseComputeThreads({ cores: 8, localWorkers: 16, readCgroupFile: files({}) }).intraOp, 1);
});
