import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A network whose links, not the CPU, are the limit: each rank gets a Linux network namespace with one veth
 * "NIC" shaped by `tc` to a line rate, all NICs plugged into one bridge. Loopback between processes on one
 * machine is faster than its cores, so without this a benchmark here cannot show what a cluster's network costs.
 *
 * Layout (a run's names share `rtbn-<owner pid>-<seq>`, so a sweep can tell a dead run's leftovers from a live one):
 *
 *   host ns: <base>h (10.254.K.1) ──veth── hub ns: br0 ──┬─ p0 ──veth── <base>-r0: eth0 10.254.K.10
 *                                                        └─ p1 ──veth── <base>-r1: eth0 10.254.K.11 …
 *
 * The bridge lives in a namespace of its own (the hub), so the host's firewall and br_netfilter never see the
 * ranks' traffic. Every rank's NIC is shaped both ways: eth0's egress (what the rank sends) and its hub port's
 * egress (what it receives), each a token bucket (tbf) at the rate, so a rank has a full-duplex link of that
 * rate, as a node's NIC would. The optional latency is a netem delay on eth0's egress (one way, per hop).
 * The host end carries only the control traffic of this process (a coordinator, a dataset service) and is
 * not shaped. Nothing on the host's existing interfaces, routes or firewall is touched.
 */
export interface ShapedNetworkOptions {
  ranks: number;
  /** Line rate of every rank's link, in Gbit/s (both directions). */
  gbit: number;
  /** One-way delay added to every packet a rank sends; needs the kernel's netem qdisc. */
  latencyMs?: number;
}

export interface ShapedRank {
  namespace: string;
  /** The rank's IPv4 address on the shaped network; listen on it so peers' traffic crosses the links. */
  address: string;
}

/** The shaped network's names and processes are this module's; nothing else creates or removes them. */
export const SHAPED_NETWORK_PREFIX = 'rtbn';

/** A network namespace setup failed, or this machine cannot make one (not root, no iproute2, no netem). */
export class ShapedNetworkError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ShapedNetworkError';
  }
}

const NAME_PATTERN = new RegExp(`^${SHAPED_NETWORK_PREFIX}-([0-9a-z]+)-([0-9a-z]+)(?:-hub|-r\\d+|h)$`);
const SUBNET_PREFIX = '10.254';
const FIRST_RANK_HOST = 10;

let sequence = 0;
const live = new Set<ShapedNetwork>();
let signalsHooked = false;

/** What a failed `ip` or `tc` said, with the fix when the tool itself is missing. */
function commandFailure(command: string, args: readonly string[], error: unknown, hint = ''): ShapedNetworkError {
  if ((error as NodeJS.ErrnoException).code === 'ENOENT')
    return new ShapedNetworkError(
      `'${command}' is not installed: shaped links need iproute2 (apt-get install iproute2)`,
      { cause: error }
    );
  const stderr = (error as { stderr?: string }).stderr?.trim() || (error as Error).message;
  return new ShapedNetworkError(`${command} ${args.join(' ')} failed: ${stderr}${hint}`, { cause: error });
}

async function ip(args: readonly string[]): Promise<string> {
  try {
    return (await run('ip', args, { encoding: 'utf8' })).stdout;
  } catch (error) {
    throw commandFailure('ip', args, error);
  }
}

async function tc(namespace: string, args: readonly string[]): Promise<void> {
  const full = ['-n', namespace, ...args];
  try {
    await run('tc', full, { encoding: 'utf8' });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    const hint = /qdisc kind is unknown/.test(stderr)
      ? ` (this kernel lacks the ${args.includes('netem') ? 'netem' : 'tbf'} qdisc${args.includes('netem') ? ', CONFIG_NET_SCH_NETEM: run without --link-latency-ms' : ''})`
      : '';
    throw commandFailure('tc', full, error, hint);
  }
}

/** `ip`'s exit status only, for removals that may find nothing to remove. */
function ipQuietSync(args: readonly string[]): void {
  try {
    execFileSync('ip', args, { stdio: 'ignore' });
  } catch {
    // Already gone (or never made): removal is idempotent.
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function namespaces(): Promise<string[]> {
  // `ip netns list` prints "name" or "name (id: N)" per line.
  return (await ip(['netns', 'list']))
    .split('\n')
    .map((line) => line.split(' ')[0]!)
    .filter((name) => name.length > 0);
}

async function hostLinks(): Promise<string[]> {
  // `ip -o link` prints "N: name@peer: <…" per line.
  return (await ip(['-o', 'link', 'show']))
    .split('\n')
    .map((line) => line.split(':')[1]?.trim().split('@')[0] ?? '')
    .filter((name) => name.length > 0);
}

/**
 * Removes the namespaces and host links of shaped networks whose owner process is gone (a benchmark killed
 * with SIGKILL cannot clean up); a live owner's network is left alone. Returns what it removed.
 */
export async function sweepStaleShapedNetworks(): Promise<string[]> {
  const removed: string[] = [];
  for (const name of [...(await namespaces()), ...(await hostLinks())]) {
    const match = NAME_PATTERN.exec(name);
    if (match === null || isAlive(parseInt(match[1]!, 36))) continue;
    if (name.endsWith('h')) ipQuietSync(['link', 'del', name]);
    else ipQuietSync(['netns', 'del', name]);
    removed.push(name);
  }
  return removed;
}

/** Whether this process may create network namespaces (root, or CAP_SYS_ADMIN, and `ip` installed). */
export async function canCreateNetworkNamespaces(): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (process.getuid?.() !== 0)
    return { ok: false, reason: 'not root: network namespaces need root (or CAP_SYS_ADMIN)' };
  const probe = `${SHAPED_NETWORK_PREFIX}-${process.pid.toString(36)}-probe${(sequence++).toString(36)}-hub`;
  try {
    await ip(['netns', 'add', probe]);
    return { ok: true };
  } catch (error) {
    return { ok: false, reason: `ip netns is not permitted here: ${(error as Error).message}` };
  } finally {
    ipQuietSync(['netns', 'del', probe]);
  }
}

function hookSignals(): void {
  if (signalsHooked) return;
  signalsHooked = true;
  // A crash or process.exit() still runs 'exit' listeners: synchronous teardown is all that can run there.
  process.on('exit', closeAllSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
}

function unhookSignals(): void {
  if (!signalsHooked || live.size > 0) return;
  signalsHooked = false;
  process.off('exit', closeAllSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(signal, onSignal);
}

function closeAllSync(): void {
  for (const network of [...live]) network.closeSync();
}

/** A benchmark interrupted is over: its ranks are killed, its network removed, and the process ends as the signal asks. */
function onSignal(signal: NodeJS.Signals): void {
  closeAllSync();
  const numbers: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };
  process.exit(128 + (numbers[signal] ?? 0));
}

function pickSubnet(taken: readonly string[], seed: number): number {
  for (let attempt = 0; attempt < 250; attempt += 1) {
    const third = ((seed + attempt) % 250) + 1;
    if (!taken.some((address) => address.startsWith(`${SUBNET_PREFIX}.${third}.`))) return third;
  }
  throw new ShapedNetworkError(`no free /24 left in ${SUBNET_PREFIX}.0.0/16`);
}

/** Token-bucket parameters for a rate: a burst of ~2 ms of line rate (at least two 64 KiB GSO packets). */
function tbfArguments(gbit: number): string[] {
  const bytesPerSecond = (gbit * 1e9) / 8;
  const burst = Math.max(128 * 1024, Math.round(bytesPerSecond / 500));
  return ['tbf', 'rate', `${Math.round(gbit * 1e6)}kbit`, 'burst', String(burst), 'latency', '100ms'];
}

export class ShapedNetwork {
  private readonly children = new Set<ChildProcess>();
  private closed = false;

  private constructor(
    readonly base: string,
    readonly options: ShapedNetworkOptions,
    /** This process's address on the network: servers the ranks must reach (a coordinator) listen here. */
    readonly hostAddress: string,
    readonly ranks: readonly ShapedRank[]
  ) {}

  get hubNamespace(): string {
    return `${this.base}-hub`;
  }

  get hostLink(): string {
    return `${this.base}h`;
  }

  /** Every namespace and host link of this network, for removal and for tests that check it is gone. */
  get names(): string[] {
    return [this.hubNamespace, ...this.ranks.map((rank) => rank.namespace), this.hostLink];
  }

  /**
   * Sweeps stale networks, then creates this one; on any failure what was made is removed before the error
   * is thrown. Removal is registered before the first name exists, for Ctrl-C, SIGTERM and crashes alike.
   */
  static async create(options: ShapedNetworkOptions): Promise<ShapedNetwork> {
    if (!(options.gbit > 0)) throw new ShapedNetworkError(`the link rate must be positive, not ${options.gbit}`);
    if (options.ranks < 1 || options.ranks > 200) throw new ShapedNetworkError('1..200 ranks fit one /24');
    await sweepStaleShapedNetworks();
    const seq = sequence++;
    const base = `${SHAPED_NETWORK_PREFIX}-${process.pid.toString(36)}-${seq.toString(36)}`;
    const taken = (await ip(['-4', '-o', 'addr', 'show']))
      .split('\n')
      .map((line) => /inet (\S+)/.exec(line)?.[1] ?? '');
    const third = pickSubnet(taken, process.pid + seq);
    const subnet = `${SUBNET_PREFIX}.${third}`;
    const ranks = Array.from({ length: options.ranks }, (_, rank) => ({
      namespace: `${base}-r${rank}`,
      address: `${subnet}.${FIRST_RANK_HOST + rank}`
    }));
    const network = new ShapedNetwork(base, options, `${subnet}.1`, ranks);
    live.add(network);
    hookSignals();
    try {
      await network.build();
      return network;
    } catch (error) {
      network.closeSync();
      throw error;
    }
  }

  private async build(): Promise<void> {
    const hub = this.hubNamespace;
    await ip(['netns', 'add', hub]);
    await ip(['-n', hub, 'link', 'set', 'lo', 'up']);
    await ip(['-n', hub, 'link', 'add', 'br0', 'type', 'bridge']);
    await ip(['-n', hub, 'link', 'set', 'br0', 'up']);
    for (const [index, rank] of this.ranks.entries()) {
      const port = `p${index}`;
      await ip(['netns', 'add', rank.namespace]);
      await ip(['-n', rank.namespace, 'link', 'set', 'lo', 'up']);
      await ip(['-n', hub, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', rank.namespace]);
      await ip(['-n', hub, 'link', 'set', port, 'master', 'br0', 'up']);
      await ip(['-n', rank.namespace, 'addr', 'add', `${rank.address}/24`, 'dev', 'eth0']);
      await ip(['-n', rank.namespace, 'link', 'set', 'eth0', 'up']);
      await tc(rank.namespace, [
        'qdisc',
        'add',
        'dev',
        'eth0',
        'root',
        'handle',
        '1:',
        ...tbfArguments(this.options.gbit)
      ]);
      if (this.options.latencyMs !== undefined && this.options.latencyMs > 0)
        await tc(rank.namespace, [
          'qdisc',
          'add',
          'dev',
          'eth0',
          'parent',
          '1:1',
          'handle',
          '10:',
          'netem',
          'delay',
          `${this.options.latencyMs}ms`,
          'limit',
          '100000'
        ]);
      await tc(hub, ['qdisc', 'add', 'dev', port, 'root', ...tbfArguments(this.options.gbit)]);
    }
    await ip(['link', 'add', this.hostLink, 'type', 'veth', 'peer', 'name', 'uplink', 'netns', hub]);
    await ip(['-n', hub, 'link', 'set', 'uplink', 'master', 'br0', 'up']);
    await ip(['addr', 'add', `${this.hostAddress}/24`, 'dev', this.hostLink]);
    await ip(['link', 'set', this.hostLink, 'up']);
  }

  /**
   * Starts `command args…` inside rank `rank`'s namespace (`ip netns exec`, which execs in place, so the child's
   * pid is the command's). The child is killed if the network is torn down under it.
   */
  spawn(rank: number, command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
    const namespace = this.ranks[rank]?.namespace;
    if (namespace === undefined) throw new ShapedNetworkError(`no rank ${rank} in a network of ${this.ranks.length}`);
    if (this.closed) throw new ShapedNetworkError(`the network ${this.base} is closed`);
    const child = spawn('ip', ['netns', 'exec', namespace, command, ...args], options);
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** Kills what still runs inside and removes every namespace and link (idempotent, synchronous). */
  closeSync(): void {
    if (this.closed) return;
    this.closed = true;
    for (const child of this.children) child.kill('SIGKILL');
    // A namespace outlives its name while processes remain in it; its veths vanish with it, and a veth's
    // host end goes with its peer. Deleting the names, and the host link explicitly, leaves nothing behind.
    for (const rank of this.ranks) ipQuietSync(['netns', 'del', rank.namespace]);
    ipQuietSync(['netns', 'del', this.hubNamespace]);
    ipQuietSync(['link', 'del', this.hostLink]);
    live.delete(this);
    unhookSignals();
  }

  /** Waits for the ranks started here to exit (killing them after `graceMs`), then removes everything. */
  async close(graceMs = 5_000): Promise<void> {
    await Promise.all(
      [...this.children].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
          })
      )
    );
    this.closeSync();
  }
}
