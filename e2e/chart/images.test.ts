import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from './tools.js';

// No Docker engine here (e2e/kind/run.sh builds the images where there is one): these catch the drift that
// would break that build, from the files alone.
const dockerfile = path.join(repoRoot, 'deploy', 'docker', 'Dockerfile');

describe('deploy/docker/Dockerfile', () => {
  it('copies the package.json of every npm workspace before `npm ci` (which refuses a missing one)', async () => {
    const text = await readFile(dockerfile, 'utf8');
    const root = JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8')) as { workspaces: string[] };
    const workspaces: string[] = [];
    for (const pattern of root.workspaces) {
      if (pattern.endsWith('/*')) {
        const parent = pattern.slice(0, -2);
        const entries = await readdir(path.join(repoRoot, parent), { withFileTypes: true });
        for (const entry of entries) if (entry.isDirectory()) workspaces.push(`${parent}/${entry.name}`);
      } else {
        workspaces.push(pattern);
      }
    }
    assert.ok(workspaces.length > 2, workspaces.join(', '));
    for (const workspace of workspaces) {
      assert.match(text, new RegExp(`^COPY ${workspace}/package\\.json ${workspace}/$`, 'm'), `the Dockerfile does not copy ${workspace}/package.json`);
    }
  });

  it('lets every path it copies through Dockerfile.dockerignore', async () => {
    const text = await readFile(dockerfile, 'utf8');
    const ignore = await readFile(`${dockerfile}.dockerignore`, 'utf8');
    const allowed = ignore
      .split('\n')
      .filter((line) => line.startsWith('!'))
      .map((line) => line.slice(1).replace(/\/$/, ''));
    const copied = [...text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((match) => (match[1] ?? '').split(' ')).map((source) => source.replace(/\/$/, ''));
    assert.ok(copied.length > 0);
    for (const source of copied) assert.ok(allowed.some((allow) => source === allow || source.startsWith(`${allow}/`)), `${source} is copied but ignored`);
  });

  it('puts the `ringtrain` bin the pods run (command: [ringtrain, …]) where PATH finds it', async () => {
    const text = await readFile(dockerfile, 'utf8');
    const cli = JSON.parse(await readFile(path.join(repoRoot, 'packages', 'cli', 'package.json'), 'utf8')) as { bin?: Record<string, string> };
    assert.ok(cli.bin?.ringtrain, '@ringtrain/cli declares the ringtrain bin (npm links it into node_modules/.bin)');
    const targets = [...text.matchAll(/^FROM \S+ AS (control-plane|worker-cpu|worker-gpu)$/gm)].map((m) => m[1]);
    assert.deepEqual(targets, ['control-plane', 'worker-cpu', 'worker-gpu']);
    for (const target of targets) {
      const stage = text.slice(text.indexOf(`AS ${target}\n`)).split(/^FROM /m)[0] ?? '';
      assert.match(stage, /^ENV .*PATH=\/app\/node_modules\/\.bin:\$PATH/m, `${target}: node_modules/.bin on PATH`);
      assert.match(stage, /^USER 65532:65532$/m, `${target}: runs as 65532, as the operator's pods expect`);
    }
  });
});
