import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../../bin/ringtrain.mjs', import.meta.url));

describe('ringtrain coordinator', () => {
  let work = '';
  let config = '';
  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-cli-coordinator-'));
    config = path.join(work, 'run.json');
    await writeFile(config, JSON.stringify({ runId: 'run-cli', dataset: path.join(work, 'dataset'), out: path.join(work, 'out'), workers: 2, epochs: 1, batchSize: 8, partitions: 2, training: { numClasses: 3 }, cacheDir: work }));
  });
  after(() => rm(work, { recursive: true, force: true }));

  it('serves /healthz and /status, logs JSON, and stops cleanly on SIGTERM with exit code 130', async () => {
    const child = spawn(process.execPath, [bin, 'coordinator', '--config', config, '--port', '0', '--http-port', '0'], {
      env: { ...process.env, RINGTRAIN_TOKEN: 'a-token-of-sufficient-length' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    const http = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        const line = stderr.split('\n').find((each) => each.includes('coordinator listening'));
        if (line !== undefined) resolve((JSON.parse(line) as { http: string }).http);
      });
      child.once('exit', () => reject(new Error(`the coordinator exited early: ${stderr}`)));
    });
    assert.equal(await (await fetch(`${http}/healthz`)).text(), 'ok\n');
    const status = (await (await fetch(`${http}/status`)).json()) as { runId: string; state: string; worldSize: number };
    assert.deepEqual([status.runId, status.state, status.worldSize], ['run-cli', 'rendezvous', 2]);
    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exit, 130);
    assert.match(stderr, /the run stopped/);
  });

  it('refuses to start without the run secret', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.RINGTRAIN_TOKEN;
    const child = spawn(process.execPath, [bin, 'coordinator', '--config', config], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 2);
    assert.match(stderr, /RINGTRAIN_TOKEN must hold the run secret/);
  });
});
