import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { readSecretFile } from './secret-file.js';

test('readSecretFile trims a value, and names the file and what provides it when it is missing or empty', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-secret-'));
  try {
    await writeFile(path.join(dir, 'KEY'), 'value\n');
    await writeFile(path.join(dir, 'EMPTY'), ' \n');
    assert.equal(await readSecretFile(dir, 'KEY', '--flag'), 'value');
    await assert.rejects(readSecretFile(dir, 'EMPTY', '--flag'), /cannot read .*EMPTY \(--flag\): the file is empty/);
    await assert.rejects(readSecretFile(dir, 'MISSING', 'SOME_ENV'), /cannot read .*MISSING \(SOME_ENV\): ENOENT/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
