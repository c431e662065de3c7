import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CoreV1Api, V1Container, V1EnvVar, V1Pod, V1Volume } from '@kubernetes/client-node';
import type { BindMount } from './sandbox.js';

/**
 * What the kubelet works out before it starts a container: the command line, the environment (values,
 * Secret and ConfigMap keys, the downward API) and the volumes, written to a per-pod directory. Two mappings
 * make a pod run as a process here, and nothing else is rewritten:
 *   - the image's `ringtrain` is this repository's bin (the CLI the images ship), run by this Node.js;
 *   - the address 0.0.0.0 in the arguments becomes the pod's own address: "all interfaces of the pod's
 *     network namespace" is, here, the one loopback address that stands in for it (pod-network.ts).
 * The environment is the pod's alone plus what an image sets (PATH, HOME) and the kubelet sets (HOSTNAME): the
 * test runner's environment is not inherited, so a variable the operator forgot cannot be supplied by accident.
 */

export const RINGTRAIN_BIN = fileURLToPath(new URL('../../packages/cli/bin/ringtrain.mjs', import.meta.url));

/** The checkout the pods' `ringtrain` and its node_modules run from: it must stay visible in every pod. */
export const REPOSITORY_ROOT = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');

/** A pod the kubelet cannot start yet (a missing Secret) or ever (a volume type it does not know). */
export class ContainerConfigError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean
  ) {
    super(message);
  }
}

export interface ContainerConfig {
  readonly container: V1Container;
  readonly argv: string[];
  readonly env: Record<string, string>;
  readonly mounts: BindMount[];
}

export interface PodPlacement {
  readonly podIp: string;
  readonly hostIp: string;
  readonly nodeName: string;
  /** The pod's own directory: volumes/, tmp files, logs. */
  readonly dir: string;
}

/** The image's entry point, on this machine. */
export function resolveCommand(container: V1Container): string[] {
  const command = [...(container.command ?? []), ...(container.args ?? [])];
  if (command.length === 0)
    throw new ContainerConfigError(
      `container ${container.name} has no command: the node agent has no image to take an entry point from`,
      false
    );
  const [program, ...rest] = command;
  if (program === 'ringtrain') return [process.execPath, RINGTRAIN_BIN, ...rest];
  return [program ?? '', ...rest];
}

async function keyOf(
  core: CoreV1Api,
  namespace: string,
  kind: 'Secret' | 'ConfigMap',
  /** A secretKeyRef or configMapKeyRef: the two have the same fields. */
  ref: { name?: string; key: string; optional?: boolean }
): Promise<string | undefined> {
  const { key } = ref;
  const name = ref.name ?? '';
  const optional = ref.optional ?? false;
  let data: Record<string, string> | undefined;
  try {
    if (kind === 'Secret') {
      const secret = await core.readNamespacedSecret({ namespace, name });
      data = Object.fromEntries(
        Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')])
      );
    } else {
      data = (await core.readNamespacedConfigMap({ namespace, name })).data;
    }
  } catch (error) {
    if (optional) return undefined;
    throw new ContainerConfigError(
      `${kind} ${namespace}/${name} cannot be read: ${error instanceof Error ? error.message : String(error)}`,
      true
    );
  }
  const value = data?.[key];
  if (value === undefined && !optional)
    throw new ContainerConfigError(`${kind} ${namespace}/${name} has no key ${key}`, true);
  return value;
}

function fieldOf(pod: V1Pod, placement: PodPlacement, fieldPath: string): string {
  const fields: Record<string, string | undefined> = {
    'metadata.name': pod.metadata?.name,
    'metadata.namespace': pod.metadata?.namespace,
    'metadata.uid': pod.metadata?.uid,
    'spec.nodeName': placement.nodeName,
    'spec.serviceAccountName': pod.spec?.serviceAccountName,
    'status.podIP': placement.podIp,
    'status.hostIP': placement.hostIp
  };
  const value = fields[fieldPath];
  if (value === undefined)
    throw new ContainerConfigError(`fieldRef ${fieldPath} is not supported by the e2e node agent`, false);
  return value;
}

async function envOf(
  core: CoreV1Api,
  pod: V1Pod,
  placement: PodPlacement,
  vars: readonly V1EnvVar[]
): Promise<Record<string, string>> {
  const namespace = pod.metadata?.namespace ?? 'default';
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: '/tmp',
    HOSTNAME: pod.spec?.hostname ?? pod.metadata?.name ?? ''
  };
  for (const variable of vars) {
    const from = variable.valueFrom;
    let value: string | undefined;
    if (from?.secretKeyRef) value = await keyOf(core, namespace, 'Secret', from.secretKeyRef);
    else if (from?.configMapKeyRef) value = await keyOf(core, namespace, 'ConfigMap', from.configMapKeyRef);
    else if (from?.fieldRef) value = fieldOf(pod, placement, from.fieldRef.fieldPath);
    else if (from)
      throw new ContainerConfigError(
        `env ${variable.name}: only secretKeyRef, configMapKeyRef and fieldRef are supported by the e2e node agent`,
        false
      );
    else value = variable.value ?? '';
    // $(VAR) references are not expanded: no Ringtrain pod uses them, and a literal one would show in a test.
    if (value !== undefined) env[variable.name] = value;
  }
  return env;
}

/** Writes one volume's content under the pod's directory; returns the directory to bind-mount. */
async function materialize(core: CoreV1Api, namespace: string, volume: V1Volume, dir: string): Promise<string> {
  const target = path.join(dir, 'volumes', volume.name);
  await mkdir(target, { recursive: true });
  const writeKeys = async (
    kind: 'Secret' | 'ConfigMap',
    name: string,
    items: Array<{ key: string; path: string }> | undefined,
    optional: boolean
  ) => {
    let data: Record<string, Buffer> = {};
    try {
      if (kind === 'Secret') {
        const secret = await core.readNamespacedSecret({ namespace, name });
        data = Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')]));
      } else {
        const configMap = await core.readNamespacedConfigMap({ namespace, name });
        data = Object.fromEntries(Object.entries(configMap.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'utf8')]));
      }
    } catch (error) {
      if (optional) return;
      throw new ContainerConfigError(
        `volume ${volume.name}: ${kind} ${namespace}/${name} cannot be read: ${error instanceof Error ? error.message : String(error)}`,
        true
      );
    }
    const files = items ?? Object.keys(data).map((key) => ({ key, path: key }));
    for (const item of files) {
      const bytes = data[item.key];
      if (bytes === undefined)
        throw new ContainerConfigError(
          `volume ${volume.name}: ${kind} ${namespace}/${name} has no key ${item.key}`,
          true
        );
      await mkdir(path.dirname(path.join(target, item.path)), { recursive: true });
      await writeFile(path.join(target, item.path), bytes);
    }
  };
  if (volume.emptyDir) return target;
  if (volume.configMap) {
    await writeKeys(
      'ConfigMap',
      volume.configMap.name ?? '',
      volume.configMap.items,
      volume.configMap.optional ?? false
    );
    return target;
  }
  if (volume.secret) {
    await writeKeys('Secret', volume.secret.secretName ?? '', volume.secret.items, volume.secret.optional ?? false);
    return target;
  }
  throw new ContainerConfigError(
    `volume ${volume.name}: only emptyDir, configMap and secret volumes are supported by the e2e node agent`,
    false
  );
}

/** Everything needed to start the pod's (single) container; throws ContainerConfigError when it cannot be. */
export async function containerConfig(core: CoreV1Api, pod: V1Pod, placement: PodPlacement): Promise<ContainerConfig> {
  const containers = pod.spec?.containers ?? [];
  const [container] = containers;
  if (!container || containers.length !== 1 || (pod.spec?.initContainers?.length ?? 0) > 0) {
    throw new ContainerConfigError(
      'the e2e node agent runs pods of exactly one container and no init containers',
      false
    );
  }
  const namespace = pod.metadata?.namespace ?? 'default';
  const argv = resolveCommand(container).map((arg) => (arg === '0.0.0.0' ? placement.podIp : arg));
  const env = await envOf(core, pod, placement, container.env ?? []);
  const volumeDirs = new Map<string, string>();
  for (const volume of pod.spec?.volumes ?? [])
    volumeDirs.set(volume.name, await materialize(core, namespace, volume, placement.dir));
  const mounts: BindMount[] = [];
  for (const mount of container.volumeMounts ?? []) {
    const source = volumeDirs.get(mount.name);
    if (!source) throw new ContainerConfigError(`volumeMount ${mount.name} names no volume of the pod`, false);
    mounts.push({
      source: mount.subPath ? path.join(source, mount.subPath) : source,
      target: mount.mountPath,
      readOnly: mount.readOnly ?? false
    });
  }
  return { container, argv, env, mounts };
}
