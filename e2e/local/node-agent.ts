import { mkdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CoreV1Api,
  ListWatch,
  PatchStrategy,
  Watch,
  setHeaderOptions,
  type KubeConfig,
  type V1Pod,
  type V1Service
} from '@kubernetes/client-node';
import { renderHostsFile, type AddressedPod } from './cluster-dns.js';
import { ContainerConfigError, containerConfig, REPOSITORY_ROOT } from './container-config.js';
import { PodAddressPool } from './pod-network.js';
import { checkSandboxSupport, startSandboxed, type Exit, type SandboxedProcess } from './sandbox.js';

/**
 * A process-based kubelet (and scheduler) for one node, for the end-to-end suite: it watches the namespace's
 * pods, binds pending ones to its node, runs each pod's single container as a local process (sandbox.ts,
 * container-config.ts) with its own address (pod-network.ts) and /etc/hosts (cluster-dns.ts), reports
 * phase, conditions, pod IP and container state (exit code, or 128 + signal) through pods/status, and on a
 * pod's deletion does what the kubelet does: SIGTERM, SIGKILL after the grace period, the terminal status,
 * then the final delete (a bound pod stays Terminating until its node says it is gone). restartPolicy Never is
 * the only policy it knows: the Ringtrain operator restarts gangs, never single containers.
 */
export interface NodeAgentOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  readonly nodeName?: string;
  /** Each pod's volumes, hosts file and log go in a directory under here. */
  readonly workDir: string;
  /** Niceness of the pods' processes (training is CPU-bound; the control plane should not wait on it). */
  readonly niceness?: number;
}

/** The node's own address, as pods see it in status.hostIP. */
const HOST_IP = '127.0.0.1';

interface PodRecord {
  readonly uid: string;
  readonly key: string;
  readonly ip: string;
  readonly dir: string;
  readonly hostsFile: string;
  readonly logFile: string;
  starting: boolean;
  process?: SandboxedProcess;
  startedAt?: string;
  exit?: Exit;
  finishedAt?: string;
  exitReported: boolean;
  terminationRequested: boolean;
  finalDeleteSent: boolean;
  containerName?: string;
  image?: string;
}

export interface PodProcessInfo {
  readonly pid: number;
  readonly ip: string;
}

export class NodeAgent {
  readonly nodeName: string;
  private readonly core: CoreV1Api;
  private readonly pods: ListWatch<V1Pod>;
  private readonly services: ListWatch<V1Service>;
  private readonly addresses = new PodAddressPool();
  private readonly records = new Map<string, PodRecord>();
  /** Every pod this node ran, gone ones included: their logs outlive them, as on a node. */
  private readonly history: PodRecord[] = [];
  private readonly queue = new Map<string, Promise<void>>();
  private readonly dirty = new Set<string>();
  private readonly extraHostsFiles = new Map<string, string>();
  private readonly writtenHosts = new Map<string, string>();
  private readonly createdOnHost = new Set<string>();
  private readonly started = Date.now();
  private stopped = false;
  private dnsWrites: Promise<void> = Promise.resolve();
  /** What went wrong inside the agent: a test asserts this stays empty, so an agent bug cannot pass as a pass. */
  readonly problems: string[] = [];
  /** One line per thing the agent did, for failure messages. */
  readonly timeline: string[] = [];
  /** Every container exit this node saw, in order: the pods themselves may be deleted by then. */
  readonly exits: Array<{
    readonly pod: string;
    readonly uid: string;
    readonly exitCode: number;
    readonly signal: NodeJS.Signals | null;
  }> = [];

  private constructor(private readonly options: NodeAgentOptions) {
    this.nodeName = options.nodeName ?? 'e2e-node';
    this.core = options.kubeConfig.makeApiClient(CoreV1Api);
    const watch = new Watch(options.kubeConfig);
    const ns = options.namespace;
    this.pods = new ListWatch<V1Pod>(
      `/api/v1/namespaces/${ns}/pods`,
      watch,
      () => this.core.listNamespacedPod({ namespace: ns }),
      false
    );
    this.services = new ListWatch<V1Service>(
      `/api/v1/namespaces/${ns}/services`,
      watch,
      () => this.core.listNamespacedService({ namespace: ns }),
      false
    );
  }

  static async start(options: NodeAgentOptions): Promise<NodeAgent> {
    checkSandboxSupport();
    const agent = new NodeAgent(options);
    await mkdir(options.workDir, { recursive: true });
    const onPod = (pod: V1Pod) => agent.schedule(`${pod.metadata?.namespace}/${pod.metadata?.name}`);
    for (const verb of ['add', 'update', 'delete'] as const) {
      agent.pods.on(verb, onPod);
      agent.services.on(verb, () => void agent.refreshDns());
    }
    for (const informer of [agent.pods, agent.services]) {
      // A watch that fails is stopped by ListWatch; list and watch again, as client-go's reflector does.
      informer.on('error', (error: unknown) => {
        if (agent.stopped) return;
        agent.note(`watch error (${String(error)}); listing again`);
        void sleep(500).then(() => (agent.stopped ? undefined : informer.start()));
      });
      await informer.start();
    }
    return agent;
  }

  /** The running process of a pod, by name; undefined when the pod has none (not started, exited, gone). */
  processOf(podName: string): PodProcessInfo | undefined {
    for (const record of this.records.values()) {
      if (record.key !== `${this.options.namespace}/${podName}` || !record.process || record.process.hasExited())
        continue;
      return { pid: record.process.pid, ip: record.ip };
    }
    return undefined;
  }

  /** Pods of this node whose process still runs. */
  runningPods(): string[] {
    return [...this.records.values()].filter((r) => r.process && !r.process.hasExited()).map((r) => r.key);
  }

  /** The output of every incarnation of a pod, gone ones included, oldest first: what `kubectl logs` cannot show. */
  async logsOf(
    podName: string
  ): Promise<Array<{ uid: string; ip: string; exitCode: number | undefined; text: string }>> {
    const logs = [];
    for (const record of this.history) {
      if (record.key !== `${this.options.namespace}/${podName}`) continue;
      logs.push({
        uid: record.uid,
        ip: record.ip,
        exitCode: record.exit?.exitCode,
        text: await readFile(record.logFile, 'utf8').catch(() => '')
      });
    }
    return logs;
  }

  /** The last lines of every incarnation's log of a pod (for failure messages). */
  async logTail(podName: string, lines = 40): Promise<string> {
    const logs = await this.logsOf(podName);
    return logs
      .map(
        (log) =>
          `--- ${podName} (${log.uid.slice(0, 8)}, ${log.ip}, exit ${log.exitCode ?? '-'}) ---\n${log.text.split('\n').slice(-lines).join('\n')}`
      )
      .join('\n');
  }

  /**
   * A hosts file kept up to date with the cluster's names, for a process that runs in the cluster but is not
   * a pod of this agent (the operator, whose Deployment would be a pod).
   */
  async clusterHostsFile(namespace: string): Promise<string> {
    const file = path.join(this.options.workDir, `hosts-${namespace}`);
    this.extraHostsFiles.set(file, namespace);
    await this.refreshDns();
    return file;
  }

  /** Remembers where a sandboxed process outside the agent created mount targets, to remove them at stop. */
  adoptCreatedOnHost(paths: readonly string[]): void {
    for (const created of paths) this.createdOnHost.add(created);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([this.pods.stop(), this.services.stop()]);
    await Promise.allSettled([...this.queue.values()]);
    const running = [...this.records.values()].flatMap((r) => (r.process && !r.process.hasExited() ? [r.process] : []));
    for (const child of running) child.signal('SIGKILL');
    await Promise.all(running.map((child) => child.exited));
    // Innermost first, and only what is empty again: a directory something else has filled since stays.
    for (const created of [...this.createdOnHost].sort((a, b) => b.length - a.length)) {
      const removed = await rmdir(created).then(
        () => true,
        () => false
      );
      if (!removed) await rm(created, { force: true }).catch(() => undefined); // a file target (ENOTDIR)
    }
  }

  private note(line: string): void {
    this.timeline.push(`${((Date.now() - this.started) / 1000).toFixed(1)}s ${line}`);
  }

  /** One sync per pod at a time; changes that arrive meanwhile fold into one more sync. */
  private schedule(key: string): void {
    if (this.stopped) return;
    if (this.queue.has(key)) {
      this.dirty.add(key);
      return;
    }
    const run = async () => {
      do {
        this.dirty.delete(key);
        try {
          await this.sync(key);
        } catch (error) {
          this.problems.push(`sync ${key}: ${error instanceof Error ? error.message : String(error)}`);
          this.note(`sync ${key} failed: ${String(error)}`);
        }
      } while (this.dirty.has(key) && !this.stopped);
      this.queue.delete(key);
    };
    this.queue.set(key, run());
  }

  private async sync(key: string): Promise<void> {
    const [namespace = '', name = ''] = key.split('/');
    const pod = this.pods.get(name, namespace);
    // Incarnations of this name whose object is gone (deleted after we finished it, or force-deleted):
    // whatever still runs is killed, as the kubelet kills containers of pods it no longer has.
    for (const record of [...this.records.values()]) {
      if (record.key !== key || record.uid === pod?.metadata?.uid) continue;
      if (record.process && !record.process.hasExited()) {
        this.note(`${key} is gone from the API server: SIGKILL`);
        record.process.signal('SIGKILL');
        await record.process.exited;
      }
      if (!record.starting) this.records.delete(record.uid);
    }
    await this.refreshDns();
    if (!pod?.metadata?.uid) return;

    if (!pod.spec?.nodeName) {
      if (!pod.metadata.deletionTimestamp) await this.bind(pod);
      return;
    }
    if (pod.spec.nodeName !== this.nodeName) return;
    const record = this.records.get(pod.metadata.uid) ?? (await this.adopt(pod));

    if (pod.metadata.deletionTimestamp) return this.terminate(pod, record);
    if (record.exit && !record.exitReported) return this.reportExit(pod, record);
    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed' || record.process || record.starting) return;
    await this.startContainer(pod, record);
  }

  /** The scheduler's part: this node takes every pod (no resources, selectors or taints are considered). */
  private async bind(pod: V1Pod): Promise<void> {
    const name = pod.metadata?.name ?? '';
    const namespace = pod.metadata?.namespace ?? 'default';
    try {
      await this.core.createNamespacedPodBinding({
        name,
        namespace,
        body: {
          apiVersion: 'v1',
          kind: 'Binding',
          metadata: { name, uid: pod.metadata?.uid },
          target: { apiVersion: 'v1', kind: 'Node', name: this.nodeName }
        }
      });
      this.note(`bound ${namespace}/${name} to ${this.nodeName}`);
    } catch (error) {
      // 409: already bound (a stale cache), or the pod was deleted meanwhile; the next event says which.
      if ((error as { code?: number }).code !== 409 && (error as { code?: number }).code !== 404) throw error;
    }
  }

  /** A pod newly bound to this node: its address, and its directory (made before anyone may write into it). */
  private async adopt(pod: V1Pod): Promise<PodRecord> {
    const uid = pod.metadata?.uid ?? '';
    const key = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
    const dir = path.join(this.options.workDir, 'pods', `${pod.metadata?.name}-${uid.slice(0, 8)}`);
    const record: PodRecord = {
      uid,
      key,
      ip: this.addresses.allocate(),
      dir,
      hostsFile: path.join(dir, 'hosts'),
      logFile: path.join(dir, 'container.log'),
      starting: false,
      exitReported: false,
      terminationRequested: false,
      finalDeleteSent: false
    };
    await mkdir(dir, { recursive: true });
    this.records.set(uid, record);
    this.history.push(record);
    return record;
  }

  private async startContainer(pod: V1Pod, record: PodRecord): Promise<void> {
    record.starting = true;
    try {
      await this.refreshDns(); // writes this pod's hosts file, and names it in everyone else's
      let config;
      try {
        config = await containerConfig(this.core, pod, {
          podIp: record.ip,
          hostIp: HOST_IP,
          nodeName: this.nodeName,
          dir: record.dir
        });
      } catch (error) {
        if (!(error instanceof ContainerConfigError)) throw error;
        return await this.reportConfigError(pod, record, error);
      }
      record.containerName = config.container.name;
      record.image = config.container.image ?? '';
      const { process: child, createdOnHost } = await startSandboxed({
        argv: config.argv,
        env: config.env,
        hostname: config.env.HOSTNAME ?? pod.metadata?.name ?? '',
        mounts: [...config.mounts, { source: record.hostsFile, target: '/etc/hosts', readOnly: true }],
        keepVisible: [REPOSITORY_ROOT],
        // The image's working directory, or / as a runtime defaults to: the pod's own directory on this machine
        // sits under /tmp, which the pod's /tmp volume hides.
        cwd: config.container.workingDir ?? '/',
        logFile: record.logFile,
        niceness: this.options.niceness ?? 10
      });
      this.adoptCreatedOnHost(createdOnHost);
      record.process = child;
      record.startedAt = new Date().toISOString();
      this.note(`started ${record.key} (pid ${child.pid}) at ${record.ip}: ${config.argv.slice(1).join(' ')}`);
      void child.exited.then((exit) => {
        record.exit = exit;
        record.finishedAt = new Date().toISOString();
        this.exits.push({
          pod: record.key.split('/')[1] ?? record.key,
          uid: record.uid,
          exitCode: exit.exitCode,
          signal: exit.signal
        });
        this.note(
          `${record.key} (pid ${child.pid}) exited with ${exit.exitCode}${exit.signal ? ` (${exit.signal})` : ''}`
        );
        this.schedule(record.key);
      });
      await this.patchStatus(pod, {
        phase: 'Running',
        hostIP: HOST_IP,
        hostIPs: [{ ip: HOST_IP }],
        podIP: record.ip,
        podIPs: [{ ip: record.ip }],
        startTime: record.startedAt,
        conditions: conditions(true, record.startedAt),
        containerStatuses: [
          {
            ...this.containerBase(record),
            ready: true,
            started: true,
            state: { running: { startedAt: record.startedAt } }
          }
        ]
      });
    } finally {
      record.starting = false;
      // A deletion that arrived while the container was starting was skipped: look at the pod again.
      this.schedule(record.key);
    }
  }

  /** As the kubelet: a missing Secret keeps the pod Pending and is retried; an unsupported spec fails it. */
  private async reportConfigError(pod: V1Pod, record: PodRecord, error: ContainerConfigError): Promise<void> {
    const container = pod.spec?.containers?.[0];
    const base = {
      name: container?.name ?? 'container',
      image: container?.image ?? '',
      imageID: '',
      restartCount: 0,
      ready: false,
      started: false
    };
    this.note(`${record.key}: ${error.message}`);
    if (error.retryable) {
      await this.patchStatus(pod, {
        containerStatuses: [
          { ...base, state: { waiting: { reason: 'CreateContainerConfigError', message: error.message } } }
        ]
      });
      void sleep(1000).then(() => this.schedule(record.key));
      return;
    }
    this.problems.push(`${record.key}: ${error.message}`);
    await this.patchStatus(pod, { phase: 'Failed', reason: 'UnsupportedPodSpec', message: error.message });
  }

  private async reportExit(pod: V1Pod, record: PodRecord): Promise<void> {
    const exit = record.exit;
    if (!exit) return;
    const finishedAt = record.finishedAt ?? new Date().toISOString();
    await this.patchStatus(pod, {
      // restartPolicy Never, one container: its exit decides the pod's phase.
      phase: exit.exitCode === 0 ? 'Succeeded' : 'Failed',
      conditions: conditions(false, finishedAt),
      containerStatuses: [
        {
          ...this.containerBase(record),
          ready: false,
          started: false,
          state: {
            terminated: {
              exitCode: exit.exitCode,
              reason: exit.exitCode === 0 ? 'Completed' : 'Error',
              startedAt: record.startedAt,
              finishedAt
            }
          }
        }
      ]
    });
    record.exitReported = true;
  }

  /**
   * Graceful deletion: SIGTERM, SIGKILL when the grace period is over, then the terminal status (the kubelet
   * reports a terminal phase before it lets a pod go) and the final delete with grace period 0.
   */
  private async terminate(pod: V1Pod, record: PodRecord): Promise<void> {
    const child = record.process;
    if (child && !child.hasExited()) {
      if (record.terminationRequested) return; // the exit schedules the next step
      record.terminationRequested = true;
      const grace = pod.metadata?.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
      this.note(`${record.key} is being deleted: SIGTERM, SIGKILL in ${grace}s`);
      child.signal('SIGTERM');
      const timer = setTimeout(() => child.signal('SIGKILL'), grace * 1000);
      void child.exited.then(() => clearTimeout(timer));
      return;
    }
    if (record.starting || record.finalDeleteSent) return;
    if (record.exit && !record.exitReported) await this.reportExit(pod, record).catch(() => undefined);
    record.finalDeleteSent = true;
    try {
      await this.core.deleteNamespacedPod({
        name: pod.metadata?.name ?? '',
        namespace: pod.metadata?.namespace ?? 'default',
        body: { gracePeriodSeconds: 0, preconditions: { uid: record.uid } }
      });
      this.note(`${record.key} deleted for good`);
    } catch (error) {
      const code = (error as { code?: number }).code;
      if (code !== 404 && code !== 409) {
        record.finalDeleteSent = false;
        throw error;
      }
    }
  }

  private containerBase(record: PodRecord) {
    return {
      name: record.containerName ?? 'container',
      image: record.image ?? '',
      imageID: '',
      containerID: `e2e://${record.uid}`,
      restartCount: 0
    };
  }

  private async patchStatus(pod: V1Pod, status: Record<string, unknown>): Promise<void> {
    try {
      await this.core.patchNamespacedPodStatus(
        { name: pod.metadata?.name ?? '', namespace: pod.metadata?.namespace ?? 'default', body: { status } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch)
      );
    } catch (error) {
      if ((error as { code?: number }).code === 404) return; // deleted meanwhile: nothing left to report to
      throw error;
    }
  }

  private ownerOf(pod: V1Pod, record: PodRecord) {
    return {
      namespace: pod.metadata?.namespace ?? 'default',
      ip: record.ip,
      hostname: pod.spec?.hostname ?? pod.metadata?.name ?? '',
      ...(pod.spec?.subdomain ? { subdomain: pod.spec.subdomain } : {})
    };
  }

  /** Pods of this node that exist in the API server, with their addresses (DNS leaves out terminating ones). */
  private addressedPods(): AddressedPod[] {
    const addressed: AddressedPod[] = [];
    for (const pod of this.pods.list()) {
      const record = pod.metadata?.uid ? this.records.get(pod.metadata.uid) : undefined;
      if (record && !record.exit) addressed.push({ pod, ip: record.ip });
    }
    return addressed;
  }

  /** Rewrites every hosts file whose content changed; one rewrite at a time, so two never interleave in a file. */
  private refreshDns(): Promise<void> {
    const write = async () => {
      const services = this.services.list();
      const pods = this.addressedPods();
      for (const record of this.records.values()) {
        const pod = pods.find((p) => p.pod.metadata?.uid === record.uid)?.pod;
        if (!pod || !(record.starting || (record.process && !record.process.hasExited()))) continue;
        await this.writeHosts(record.hostsFile, renderHostsFile(this.ownerOf(pod, record), services, pods));
      }
      for (const [file, namespace] of this.extraHostsFiles)
        await this.writeHosts(file, renderHostsFile({ namespace }, services, pods));
    };
    this.dnsWrites = this.dnsWrites.then(write).catch((error: unknown) => {
      this.problems.push(`hosts files: ${error instanceof Error ? error.message : String(error)}`);
    });
    return this.dnsWrites;
  }

  /**
   * In place (truncate and write, same inode): the file is bind-mounted over /etc/hosts, and a bind mount
   * follows the inode, not the name, so a rename would leave the pod with the old content.
   */
  private async writeHosts(file: string, content: string): Promise<void> {
    if (this.writtenHosts.get(file) === content) return;
    await writeFile(file, content);
    this.writtenHosts.set(file, content);
  }
}

function conditions(ready: boolean, at: string) {
  const status = ready ? 'True' : 'False';
  return [
    { type: 'PodScheduled', status: 'True', lastTransitionTime: at },
    { type: 'Initialized', status: 'True', lastTransitionTime: at },
    { type: 'ContainersReady', status, lastTransitionTime: at },
    { type: 'Ready', status, lastTransitionTime: at }
  ];
}
