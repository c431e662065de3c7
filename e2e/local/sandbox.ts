import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, open, stat } from 'node:fs/promises';
import { constants } from 'node:os';
import path from 'node:path';

/**
 * Runs one container's process on this machine, with what a container runtime gives it that the Ringtrain
 * contract relies on: its volumes at their mount paths (the coordinator reads /etc/ringtrain/run.json, the
 * workers write their shard cache under /cache, the S3 credentials Secret sits at
 * /var/run/secrets/ringtrain/s3), its own /tmp, the kubelet's /etc/hosts and its host name. Each process gets
 * private mount and UTS namespaces (`unshare --mount --uts`, needs root) in which those directories are
 * bind-mounted, so the process sees exactly the paths its pod spec names while the machine sees none of its
 * files. Not
 * emulated: the image's filesystem (the process runs on this machine's, with the repository's `ringtrain`),
 * the security context (uid, read-only root), resource limits, and a PID namespace: signals go to the one
 * process Ringtrain's containers run (its worker threads go with it). It stays in the suite's process group,
 * so a Ctrl-C of the suite stops the pods too instead of leaving them training.
 */
export interface BindMount {
  readonly source: string;
  readonly target: string;
  readonly readOnly: boolean;
}

export interface SandboxSpec {
  /** argv[0] must be an absolute path or on the PATH given in `env`. */
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** Set in a UTS namespace of its own, as a pod's hostname is. */
  readonly hostname: string;
  readonly mounts: readonly BindMount[];
  /**
   * Paths of this machine the process must still see after its volumes are mounted: the repository its
   * `ringtrain` runs from, which a pod's /tmp volume would hide when the repository was cloned under /tmp.
   */
  readonly keepVisible: readonly string[];
  readonly cwd: string;
  /** stdout and stderr, appended. */
  readonly logFile: string;
  /** Training is CPU-bound and this machine is shared: a positive niceness leaves room for the rest. */
  readonly niceness: number;
}

export interface Exit {
  /** As a container runtime reports it: the exit status, or 128 + the signal's number. */
  readonly exitCode: number;
  readonly signal: NodeJS.Signals | null;
}

export interface SandboxedProcess {
  readonly pid: number;
  readonly exited: Promise<Exit>;
  /** A no-op once the process has exited (its pid may be someone else's by then). */
  signal(signal: NodeJS.Signals): void;
  hasExited(): boolean;
}

// Positional arguments: the host name, a stash directory, the paths to keep visible, `--`, (ro|rw, source, target)
// triples, `--`, the paths to keep visible again, `--`, then the command. Each kept path is bound into a tmpfs on
// the stash directory before the volumes are mounted and bound back in place after them. Quoting stays with the
// shell.
const MOUNT_AND_EXEC = [
  'set -e',
  'hostname "$1"',
  'stash="$2"',
  'shift 2',
  'mount -t tmpfs ringtrain-e2e-keep "$stash"',
  'i=0',
  'while [ "$1" != "--" ]; do mkdir -p "$stash/$i"; mount --bind "$1" "$stash/$i"; i=$((i + 1)); shift; done',
  'shift',
  'while [ "$1" != "--" ]; do',
  '  mount --bind "$2" "$3"',
  '  if [ "$1" = ro ]; then mount -o remount,bind,ro "$3"; fi',
  '  shift 3',
  'done',
  'shift',
  'i=0',
  'while [ "$1" != "--" ]; do mkdir -p "$1"; mount --bind "$stash/$i" "$1"; i=$((i + 1)); shift; done',
  'shift',
  'exec "$@"'
].join('\n');

/** A directory of this machine to hold the stash tmpfs (in the process's namespace only) that is no ancestor of a kept path. */
function stashDirectory(keep: readonly string[]): string {
  const candidate = ['/mnt', '/media', '/srv', '/opt'].find(
    (dir) => existsSync(dir) && !keep.some((kept) => within(kept, dir))
  );
  if (candidate === undefined)
    throw new Error(`no directory among /mnt, /media, /srv, /opt exists outside ${keep.join(', ')} to stash them in`);
  return candidate;
}

/** Where the unshare and mount binaries must be, and why, said once rather than as an obscure EPERM later. */
export function checkSandboxSupport(): void {
  if (process.getuid?.() !== 0) {
    throw new Error(
      'the e2e node agent runs each pod in its own mount namespace (unshare --mount), which needs root; run the e2e suite as root (CI does)'
    );
  }
  for (const binary of ['/usr/bin/unshare', '/usr/bin/nice']) {
    if (!existsSync(binary))
      throw new Error(`${binary} is missing (util-linux / coreutils): the e2e node agent needs it to run pods`);
  }
}

/** The directories `mkdir -p dir` would create, outermost first. */
function missingDirectories(dir: string): string[] {
  const missing: string[] = [];
  for (let current = dir; !existsSync(current); current = path.dirname(current)) missing.unshift(current);
  return missing;
}

/**
 * Mount targets that do not exist on this machine (/cache, /etc/ringtrain) are created as empty directories
 * (or an empty file, for a file source) before the namespace binds over them; every path created is
 * returned so that the caller can remove them, innermost first, when it is done.
 */
async function ensureMountTargets(mounts: readonly BindMount[]): Promise<string[]> {
  const created: string[] = [];
  for (const mount of mounts) {
    if (existsSync(mount.target)) continue;
    const isDirectory = (await stat(mount.source)).isDirectory();
    const directories = missingDirectories(isDirectory ? mount.target : path.dirname(mount.target));
    await mkdir(isDirectory ? mount.target : path.dirname(mount.target), { recursive: true });
    created.push(...directories);
    if (!isDirectory) {
      await (await open(mount.target, 'a')).close();
      created.push(mount.target);
    }
  }
  return created;
}

const within = (file: string, dir: string) => file === dir || file.startsWith(dir.endsWith('/') ? dir : `${dir}/`);

/**
 * Mounts in an order in which every source is still visible when it is bound: a pod's /tmp volume hides
 * this machine's /tmp, where the pods' own directories (the other sources) live, so it goes last. Parents
 * go before their children, as the kubelet orders mounts by path.
 */
export function mountOrder(mounts: readonly BindMount[]): BindMount[] {
  const hidesASource = (mount: BindMount) =>
    mounts.some((other) => other !== mount && within(other.source, mount.target));
  const byDepth = (a: BindMount, b: BindMount) => a.target.split('/').length - b.target.split('/').length;
  return [...mounts.filter((m) => !hidesASource(m)).sort(byDepth), ...mounts.filter(hidesASource).sort(byDepth)];
}

export async function startSandboxed(
  spec: SandboxSpec
): Promise<{ process: SandboxedProcess; createdOnHost: string[] }> {
  const createdOnHost = await ensureMountTargets(spec.mounts);
  const log = await open(spec.logFile, 'a');
  const mountArgs = mountOrder(spec.mounts).flatMap((mount) => [
    mount.readOnly ? 'ro' : 'rw',
    mount.source,
    mount.target
  ]);
  const keep = spec.keepVisible;
  const script = [spec.hostname, stashDirectory(keep), ...keep, '--', ...mountArgs, '--', ...keep, '--'];
  const child = spawn(
    '/usr/bin/unshare',
    [
      '--mount',
      '--uts',
      '--propagation',
      'private',
      '--',
      '/bin/sh',
      '-c',
      MOUNT_AND_EXEC,
      'sandbox',
      ...script,
      '/usr/bin/nice',
      '-n',
      String(spec.niceness),
      ...spec.argv
    ],
    {
      cwd: spec.cwd,
      env: spec.env,
      stdio: ['ignore', log.fd, log.fd]
    }
  );
  await log.close(); // the child holds its own copy of the descriptor
  const pid = child.pid;
  if (pid === undefined) {
    const error = await new Promise<Error>((resolve) => child.once('error', resolve));
    throw new Error(`cannot start ${spec.argv.join(' ')}: ${error.message}`);
  }
  let done = false;
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => {
      done = true;
      resolve({ exitCode: code ?? 128 + (signal ? constants.signals[signal] : 0), signal });
    });
  });
  return {
    createdOnHost,
    process: {
      pid,
      exited,
      hasExited: () => done,
      signal: (signal) => {
        if (!done) child.kill(signal);
      }
    }
  };
}
