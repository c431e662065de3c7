import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { freePort } from './free-port.js';

/**
 * A real control plane for integration tests (what envtest gives Go operators): etcd and kube-apiserver on
 * 127.0.0.1 with free ports, a temporary directory, a fresh service-account key pair and a static admin
 * token. No scheduler, kubelet or controller-manager: tests play those parts by writing pod status. The
 * binaries come from scripts/install-kube-test-servers.sh; when they are missing this throws, so the tests
 * fail and say how to fix it rather than skip.
 */
export interface KubeTestServer {
  readonly kubeConfig: KubeConfig;
  readonly server: string;
  stop(): Promise<void>;
}

const installScript = 'scripts/install-kube-test-servers.sh';

export function kubeTestBinaries(): { etcd: string; kubeApiserver: string } {
  const cache = process.env.RINGTRAIN_CACHE ?? path.join(os.homedir(), '.cache', 'ringtrain');
  const etcd = process.env.RINGTRAIN_ETCD_BIN ?? path.join(cache, 'bin', 'etcd');
  const kubeApiserver = process.env.RINGTRAIN_KUBE_APISERVER_BIN ?? path.join(cache, 'bin', 'kube-apiserver');
  for (const binary of [etcd, kubeApiserver]) {
    if (!existsSync(binary))
      throw new Error(
        `${path.basename(binary)} not found at ${binary}: run \`bash ${installScript}\` from the repository root first (a cold build takes ~20 minutes)`
      );
  }
  return { etcd, kubeApiserver };
}

export async function startKubeTestServer(): Promise<KubeTestServer> {
  const binaries = kubeTestBinaries();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-kube-'));
  const children: ChildProcess[] = [];
  const stopAll = async () => {
    for (const child of children.reverse()) await stopChild(child);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const etcd = launch(binaries.etcd, [
      '--name=test',
      `--data-dir=${path.join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=test=http://127.0.0.1:${peerPort}`,
      '--unsafe-no-fsync', // a throwaway store: durability only costs time here
      '--log-level=error'
    ]);
    children.push(etcd.child);
    await waitFor(`etcd at ${etcdUrl}`, etcd, async () => (await fetch(`${etcdUrl}/health`)).ok);

    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await writeFile(path.join(dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
    await writeFile(path.join(dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const token = randomBytes(24).toString('hex');
    await writeFile(path.join(dir, 'tokens.csv'), `${token},admin,admin-uid,system:masters\n`);

    const server = `https://127.0.0.1:${apiPort}`;
    const apiserver = launch(binaries.kubeApiserver, [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${path.join(dir, 'certs')}`, // self-signed serving certificate, generated at start
      `--token-auth-file=${path.join(dir, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      `--service-account-key-file=${path.join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${path.join(dir, 'sa.key')}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      '--service-cluster-ip-range=10.0.0.0/24',
      // No controller-manager creates the default ServiceAccount, so its admission plugin would refuse every pod.
      '--disable-admission-plugins=ServiceAccount',
      '--enable-priority-and-fairness=false',
      // The `kubernetes` Service's endpoints would point at 127.0.0.1, which the endpoint reconciler refuses; as envtest does, skip it.
      '--endpoint-reconciler-type=none',
      '--v=0'
    ]);
    children.push(apiserver.child);
    const headers = { authorization: `Bearer ${token}` };
    await waitFor(`kube-apiserver at ${server}`, apiserver, async () => {
      const response = await fetchInsecure(`${server}/readyz`, headers);
      return response === 200;
    });

    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [{ name: 'test', server, skipTLSVerify: true }],
      users: [{ name: 'admin', token }],
      contexts: [{ name: 'test', cluster: 'test', user: 'admin', namespace: 'default' }],
      currentContext: 'test'
    });
    return { kubeConfig, server, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

interface Launched {
  readonly child: ChildProcess;
  readonly output: () => string;
}

function launch(binary: string, args: string[]): Launched {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { child, output: () => output };
}

/** GET over TLS without verifying the self-signed certificate (node's fetch cannot be told to skip it). */
async function fetchInsecure(url: string, headers: Record<string, string>): Promise<number> {
  const https = await import('node:https');
  return new Promise((resolve, reject) => {
    const request = https.get(url, { headers, rejectUnauthorized: false, timeout: 2000 }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('error', reject);
    request.on('timeout', () => request.destroy(new Error('timeout')));
  });
}

async function waitFor(
  what: string,
  launched: Launched,
  ready: () => Promise<boolean>,
  timeoutMs = 120_000
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (launched.child.exitCode !== null)
      throw new Error(`${what} exited with ${launched.child.exitCode}:\n${launched.output()}`);
    try {
      if (await ready()) return;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  throw new Error(`${what} was not ready within ${timeoutMs / 1000} s:\n${launched.output()}`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
