import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root and the chart, wherever the tests are started from. */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const chartDir = path.join(repoRoot, 'helm', 'ringtrain');
export const valuesDir = fileURLToPath(new URL('./values/', import.meta.url));

/**
 * The pinned helm from scripts/install-helm.sh. Missing helm fails the tests with the fix, never skips them:
 * a green run must mean the chart was checked.
 */
export function helmBinary(): string {
  const cache = process.env.RINGTRAIN_CACHE ?? path.join(os.homedir(), '.cache', 'ringtrain');
  const helm = process.env.RINGTRAIN_HELM_BIN ?? path.join(cache, 'bin', 'helm');
  if (!existsSync(helm))
    throw new Error(
      `helm not found at ${helm}: run \`bash scripts/install-helm.sh\` from the repository root first (a cold build takes ~3 minutes)`
    );
  return helm;
}

/**
 * The pinned kube-score from scripts/install-kube-score.sh. Missing, it fails the tests with the fix, as a missing
 * helm does: a green run must mean what we ship was scored.
 */
export function kubeScoreBinary(): string {
  const cache = process.env.RINGTRAIN_CACHE ?? path.join(os.homedir(), '.cache', 'ringtrain');
  const kubeScore = process.env.RINGTRAIN_KUBE_SCORE_BIN ?? path.join(cache, 'bin', 'kube-score');
  if (!existsSync(kubeScore))
    throw new Error(
      `kube-score not found at ${kubeScore}: run \`bash scripts/install-kube-score.sh\` from the repository root first (a cold build takes ~1.5 minutes)`
    );
  return kubeScore;
}

export const kubectlBinary = process.env.RINGTRAIN_KUBECTL_BIN ?? '/usr/bin/kubectl';

export interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion; a non-zero exit is a result to assert on, not an exception. */
export function run(command: string, args: readonly string[], input?: string): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      command,
      args,
      { maxBuffer: 64 * 1024 * 1024, timeout: 120_000 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') {
          reject(new Error(`${path.basename(command)} ${args.join(' ')} could not run: ${error.message}`));
          return;
        }
        resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
      }
    );
    child.stdin?.end(input ?? '');
  });
}

/** Like run, but a non-zero exit throws with the command's stderr. */
export async function runOk(command: string, args: readonly string[], input?: string): Promise<string> {
  const result = await run(command, args, input);
  if (result.code !== 0)
    throw new Error(
      `${path.basename(command)} ${args.join(' ')} exited ${result.code}:\n${result.stderr}${result.stdout}`
    );
  return result.stdout;
}

/** A values set of the chart: files under e2e/chart/values/ plus --set pairs. */
export interface ValuesSet {
  readonly name: string;
  readonly files: readonly string[];
  readonly set?: readonly string[];
  readonly namespace: string;
}

export const RELEASE = 'rt';

/** The default values, installed in ringtrain-system. */
export const defaultValues: ValuesSet = { name: 'default values', files: [], namespace: 'ringtrain-system' };

/** An existing S3, GPU-node scheduling, tolerations, two operator replicas, one watched namespace. */
export const productionValues: ValuesSet = {
  name: 'production values (external S3, GPU nodes, 2 replicas)',
  files: ['production.yaml'],
  namespace: 'ringtrain'
};

export function valuesArgs(values: ValuesSet): string[] {
  return [
    ...values.files.flatMap((file) => ['--values', path.join(valuesDir, file)]),
    ...(values.set ?? []).flatMap((pair) => ['--set', pair])
  ];
}

/**
 * `helm template` of the chart, with helm's built-in Kubernetes version (stamped by scripts/install-helm.sh;
 * an unstamped helm says v1.20 and the chart's kubeVersion refuses it).
 */
export function helmTemplate(values: ValuesSet, extra: readonly string[] = []): Promise<Ran> {
  return run(helmBinary(), [
    'template',
    RELEASE,
    chartDir,
    '--namespace',
    values.namespace,
    ...valuesArgs(values),
    ...extra
  ]);
}

/** A started process: its combined output so far, and its exit code once it ends. */
export interface Started {
  readonly child: ChildProcess;
  output(): string;
  readonly exited: Promise<number | null>;
}

export function start(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Started {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}
