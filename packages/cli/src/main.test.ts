import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../bin/ringtrain.mjs', import.meta.url));

test('ringtrain --help runs from the bin shim and names the program', () => {
  const result = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /Usage: ringtrain/);
});

test('an unknown command exits non-zero with a message', () => {
  const result = spawnSync(process.execPath, [bin, 'no-such-command'], { encoding: 'utf8' });
  assert.notEqual(result.status, 0);
  assert.match(result.stderr, /error: /);
});
