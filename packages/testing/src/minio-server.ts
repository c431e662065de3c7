import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './free-port.js';

/** Where the server listens and its root credentials: the shape of @ringtrain/dataset's `S3Config`, which it can be passed as. */
export type MinioTestConfig = {
  endpoint: string;
  region: string;
  pathStyle: boolean;
  accessKey: string;
  secretKey: string;
};

/**
 * A real MinIO server for integration tests, on 127.0.0.1 with a random free port and a temporary data dir.
 * The binary comes from scripts/install-minio.sh; when it is missing this throws (tests fail, never skip).
 */
export type MinioTestServer = {
  config: MinioTestConfig;
  stop(): Promise<void>;
  /** Kills the server (SIGKILL, as a pod is killed) and keeps its data: clients get refused connections until `restart`. */
  kill(): Promise<void>;
  /** Starts it again on the same address and data, and waits until it is healthy. */
  restart(): Promise<void>;
};

const installScript = 'scripts/install-minio.sh';

export function minioBinary(): string {
  const explicit = process.env.RINGTRAIN_MINIO_BIN;
  const cache = process.env.RINGTRAIN_CACHE ?? path.join(os.homedir(), '.cache', 'ringtrain');
  const candidate = explicit ?? path.join(cache, 'bin', 'minio');
  if (!existsSync(candidate)) {
    throw new Error(
      `MinIO server binary not found at ${candidate}: run \`bash ${installScript}\` from the repository root first`
    );
  }
  return candidate;
}

export async function startMinio(): Promise<MinioTestServer> {
  const binary = minioBinary();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-minio-'));
  const port = await freePort();
  const accessKey = 'ringtrain-test';
  const secretKey = 'ringtrain-test-secret';
  const endpoint = `http://127.0.0.1:${port}`;
  const launch = async (): Promise<ChildProcess> => {
    const child = spawn(binary, ['server', '--quiet', '--address', `127.0.0.1:${port}`, dataDir], {
      env: {
        ...process.env,
        MINIO_ROOT_USER: accessKey,
        MINIO_ROOT_PASSWORD: secretKey,
        MINIO_BROWSER: 'off',
        MINIO_UPDATE: 'off'
      },
      stdio: ['ignore', 'ignore', 'pipe']
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    try {
      await waitHealthy(endpoint, child, () => stderr);
    } catch (error) {
      await stopChild(child);
      throw error;
    }
    return child;
  };
  let child = await launch().catch(async (error: unknown) => {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  });
  return {
    config: { endpoint, region: 'us-east-1', pathStyle: true, accessKey, secretKey },
    async stop() {
      await stopChild(child);
      await rm(dataDir, { recursive: true, force: true });
    },
    async kill() {
      await stopChild(child, 'SIGKILL');
    },
    async restart() {
      await stopChild(child, 'SIGKILL');
      child = await launch();
    }
  };
}

async function waitHealthy(endpoint: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`minio exited with ${child.exitCode}: ${stderr()}`);
    try {
      const response = await fetch(`${endpoint}/minio/health/live`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`minio did not become healthy at ${endpoint} within 30 s: ${stderr()}`);
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}
