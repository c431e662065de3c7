import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseDecodeConcurrency } from './decode-concurrency.js';

const files =
  (entries: Record<string, string>) =>
  (path: string): string | undefined =>
    entries[path];
const GiB = 2 ** 30;

describe("an ingest's decode concurrency", () => {
  it("counts a pod's CPU quota, not the node's cores: 2 CPUs on a 64-core node decode 4 at once", () => {
    const sized = chooseDecodeConcurrency({
      cores: 64,
      maxResolution: 448,
      readCgroupFile: files({ '/sys/fs/cgroup/cpu.max': '200000 100000', '/sys/fs/cgroup/memory.max': String(2 * GiB) })
    });
    assert.equal(sized.decodes, 4);
    assert.match(sized.reason, /a CPU quota of 2 on 64 cores allow 4/);
  });

  it('decodes no more than the memory limit holds: 1 GiB and full-size photos allow 5, however many CPUs', () => {
    const sized = chooseDecodeConcurrency({
      cores: 64,
      readCgroupFile: files({ '/sys/fs/cgroup/memory.max': String(GiB) })
    });
    assert.equal(sized.decodes, 5, '(1024 − 512 MiB) / 96 MiB');
    assert.match(sized.reason, /a memory limit of 1024 MiB holds 5 \(96 MiB each at full size/);
  });

  it('fits more decodes in the same memory when the ingest downscales (--max-resolution)', () => {
    const limit = files({ '/sys/fs/cgroup/memory/memory.limit_in_bytes': String(GiB) });
    assert.equal(chooseDecodeConcurrency({ cores: 64, readCgroupFile: limit }).decodes, 5);
    assert.equal(
      chooseDecodeConcurrency({ cores: 64, maxResolution: 448, readCgroupFile: limit }).decodes,
      8,
      '(1024 − 512 MiB) / 64 MiB, from the cgroup v1 file'
    );
  });

  it('decodes one at a time when the memory limit barely holds the ingest itself', () => {
    assert.equal(
      chooseDecodeConcurrency({
        cores: 8,
        readCgroupFile: files({ '/sys/fs/cgroup/memory.max': String(256 * 2 ** 20) })
      }).decodes,
      1
    );
  });

  it('uses two per core when no cgroup limits it (a laptop, `ringtrain ingest`)', () => {
    const sized = chooseDecodeConcurrency({
      cores: 8,
      readCgroupFile: files({ '/sys/fs/cgroup/cpu.max': 'max 100000', '/sys/fs/cgroup/memory.max': 'max' })
    });
    assert.deepEqual(sized, { decodes: 16, reason: '2 per CPU of 8 cores, no memory limit' });
  });
});
