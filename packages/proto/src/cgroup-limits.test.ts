import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cgroupCpuQuota, cgroupMemoryLimit } from './cgroup-limits.js';

const files =
  (entries: Record<string, string>) =>
  (path: string): string | undefined =>
    entries[path];

test('cgroup CPU quotas: v2 max is no limit, v1 quota -1 is no limit, a fraction still counts as one CPU', () => {
  assert.equal(cgroupCpuQuota(files({ '/sys/fs/cgroup/cpu.max': '400000 100000\n' })), 4);
  assert.equal(cgroupCpuQuota(files({ '/sys/fs/cgroup/cpu.max': 'max 100000' })), undefined);
  assert.equal(
    cgroupCpuQuota(
      files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000' })
    ),
    undefined
  );
  assert.equal(
    cgroupCpuQuota(
      files({
        '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '250000',
        '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000'
      })
    ),
    2
  );
  assert.equal(cgroupCpuQuota(files({ '/sys/fs/cgroup/cpu.max': '50000 100000' })), 1);
  assert.equal(cgroupCpuQuota(files({})), undefined, 'no cgroup files: no quota');
});

test('cgroup memory limits: v2 memory.max, v1 limit_in_bytes, and their ways of saying "no limit"', () => {
  assert.equal(cgroupMemoryLimit(files({ '/sys/fs/cgroup/memory.max': '2147483648\n' })), 2 ** 31);
  assert.equal(cgroupMemoryLimit(files({ '/sys/fs/cgroup/memory.max': 'max\n' })), undefined);
  assert.equal(cgroupMemoryLimit(files({ '/sys/fs/cgroup/memory/memory.limit_in_bytes': '1073741824\n' })), 2 ** 30);
  assert.equal(
    cgroupMemoryLimit(files({ '/sys/fs/cgroup/memory/memory.limit_in_bytes': '9223372036854771712\n' })),
    undefined
  );
  assert.equal(cgroupMemoryLimit(files({})), undefined);
});
