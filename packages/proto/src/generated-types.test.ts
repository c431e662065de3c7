import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadProto, PROTO_DIR } from './index.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? listFiles(path) : [path];
  });
}

test('the committed generated types equal a fresh run of the pinned generator', () => {
  const outDir = mkdtempSync(join(tmpdir(), 'ringtrain-proto-'));
  try {
    const protoFiles = readdirSync(PROTO_DIR).filter((name) => name.endsWith('.proto'));
    const generator = join(packageDir, '..', '..', 'node_modules', '.bin', 'proto-loader-gen-types');
    const script = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')).scripts.generate as string;
    const flags = script.split(' ').filter((word) => word.startsWith('--') && !word.startsWith('--outDir'));
    execFileSync(generator, [...flags, `--outDir=${outDir}`, ...protoFiles], { cwd: packageDir });
    const committedDir = join(packageDir, 'src', 'generated');
    const fresh = listFiles(outDir)
      .map((file) => relative(outDir, file))
      .sort();
    const committed = listFiles(committedDir)
      .map((file) => relative(committedDir, file))
      .sort();
    assert.deepEqual(committed, fresh, 'run `npm run generate -w @ringtrain/proto` and commit the result');
    for (const file of fresh) {
      assert.equal(
        readFileSync(join(committedDir, file), 'utf8'),
        readFileSync(join(outDir, file), 'utf8'),
        `${file} is stale: run \`npm run generate -w @ringtrain/proto\``
      );
    }
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
});

test('the collective contract loads and declares the Link service', () => {
  const definition = loadProto('collective.proto');
  assert.ok('ringtrain.collective.v1.Collective' in definition);
  assert.ok('ringtrain.collective.v1.Frame' in definition);
});
