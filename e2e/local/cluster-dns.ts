import type { V1Pod, V1Service } from '@kubernetes/client-node';

/**
 * Cluster DNS for pods that are processes on one machine, rendered as an /etc/hosts file.
 *
 * In a cluster, CoreDNS answers `<svc>.<ns>.svc.cluster.local` (a ClusterIP that kube-proxy forwards to a
 * ready pod) and, for a headless Service, `<hostname>.<subdomain>.<ns>.svc.cluster.local` (the pod's own IP);
 * the pod's resolv.conf search path makes `<svc>` and `<svc>.<ns>.svc` work too. Here every pod has its own
 * loopback address (see pod-network.ts) and no kube-proxy runs, so a Service name resolves straight to the
 * address of the pod it selects. The node agent bind-mounts one such file over each pod's /etc/hosts, as
 * the kubelet does with its managed hosts file, so the processes resolve the names the operator wrote into
 * their arguments and environment through the ordinary resolver (getaddrinfo: `hosts: files dns`), unchanged.
 * glibc's files backend knows no search path, so each name is listed in every form a pod may spell it.
 */
export const CLUSTER_DOMAIN = 'cluster.local';

/** A pod as DNS sees it: its address on this machine and the labels Services select it by. */
export interface AddressedPod {
  readonly pod: V1Pod;
  readonly ip: string;
}

/** The process the file is for: its namespace (short names are relative to it) and its own host name. */
export interface HostsFileOwner {
  readonly namespace: string;
  readonly ip?: string;
  readonly hostname?: string;
  readonly subdomain?: string;
}

/** Every spelling of `<name>.<namespace>.svc.cluster.local` a pod in `fromNamespace` may use. */
export function serviceNameForms(name: string, namespace: string, fromNamespace: string): string[] {
  const forms = [`${name}.${namespace}.svc.${CLUSTER_DOMAIN}`, `${name}.${namespace}.svc`, `${name}.${namespace}`];
  if (namespace === fromNamespace) forms.push(name);
  return forms;
}

function selects(service: V1Service, pod: V1Pod): boolean {
  const selector = service.spec?.selector;
  if (!selector || Object.keys(selector).length === 0) return false; // a selector-less Service has manual endpoints
  if ((pod.metadata?.namespace ?? 'default') !== (service.metadata?.namespace ?? 'default')) return false;
  const labels = pod.metadata?.labels ?? {};
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

/**
 * The hosts file of one process. Terminating pods are left out, as the endpoints controller leaves them out
 * of a Service's ready endpoints, so during a gang restart a name moves to the new attempt's pod.
 */
export function renderHostsFile(
  owner: HostsFileOwner,
  services: readonly V1Service[],
  pods: readonly AddressedPod[]
): string {
  const lines = [
    '# Written by the e2e node agent (e2e/local/cluster-dns.ts): cluster DNS as a hosts file',
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback'
  ];
  if (owner.ip && owner.hostname) {
    const own = owner.subdomain
      ? [...serviceNameForms(`${owner.hostname}.${owner.subdomain}`, owner.namespace, owner.namespace), owner.hostname]
      : [owner.hostname];
    lines.push(`${owner.ip}\t${[...new Set(own)].join(' ')}`);
  }
  const live = pods.filter(({ pod }) => !pod.metadata?.deletionTimestamp);
  for (const service of services) {
    const name = service.metadata?.name;
    const namespace = service.metadata?.namespace ?? 'default';
    if (!name) continue;
    const selected = live.filter(({ pod }) => selects(service, pod));
    for (const { ip } of selected) lines.push(`${ip}\t${serviceNameForms(name, namespace, owner.namespace).join(' ')}`);
    if (service.spec?.clusterIP !== 'None') continue;
    // A headless Service also names each selected pod whose subdomain is the Service: <hostname>.<service>.
    for (const { pod, ip } of selected) {
      const hostname = pod.spec?.hostname;
      if (!hostname || pod.spec?.subdomain !== name) continue;
      lines.push(`${ip}\t${serviceNameForms(`${hostname}.${name}`, namespace, owner.namespace).join(' ')}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
