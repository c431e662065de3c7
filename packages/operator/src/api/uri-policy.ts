import { isIP } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { TrainingRun } from './training-run.js';

/**
 * Which URIs a TrainingRun may name, a cluster setting (the operator's --allowed-uri-schemes and
 * --allowed-uri-hosts, the chart's operator.allowedUris): every pod of a run reads and writes what its spec
 * names with the run's credentials, from inside the cluster's network, so a spec must not point them at the
 * node's disk (`file://`), the cloud's metadata service or an internal host nobody meant to expose.
 */
export interface UriPolicy {
  /** e.g. `s3`, `https`; never `file`, whatever is configured. */
  readonly schemes: readonly string[];
  /** Hosts an http(s) URI may name (with `https` or `http` among the schemes). */
  readonly hosts: readonly string[];
}

export const DEFAULT_URI_POLICY: UriPolicy = { schemes: ['s3'], hosts: [] };

/** Names no policy can allow: cloud metadata services by name. */
const METADATA_HOSTS = new Set(['metadata', 'metadata.google.internal', 'metadata.azure.internal', 'instance-data']);

/** Link-local addresses (169.254/16 and fe80::/10 hold the cloud's metadata service) and metadata names. */
function isLinkLocalOrMetadata(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (METADATA_HOSTS.has(bare)) return true;
  const family = isIP(bare);
  if (family === 4) return bare.startsWith('169.254.');
  if (family === 6) {
    if (/^fe[89ab]/.test(bare) || bare.startsWith('fd00:ec2::')) return true; // fe80::/10; AWS's IPv6 metadata
    const mapped = ipv4MappedAddress(bare);
    return mapped !== undefined && isLinkLocalOrMetadata(mapped);
  }
  return false;
}

/** The IPv4 address of an IPv4-mapped IPv6 one, as written or as URL normalises it (::ffff:a9fe:a9fe). */
function ipv4MappedAddress(ipv6: string): string | undefined {
  const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(ipv6)?.[1];
  if (dotted !== undefined) return dotted;
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(ipv6);
  if (hex === null) return undefined;
  const [high, low] = [Number.parseInt(hex[1]!, 16), Number.parseInt(hex[2]!, 16)];
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}

/** ...and loopback or unspecified: in a pod, the pod itself, which an http(s) weights URI has no business naming. */
function isLocalAddress(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost' || bare.endsWith('.localhost') || bare === '::1' || bare === '::') return true;
  const v4 = isIP(bare) === 6 ? ipv4MappedAddress(bare) : bare;
  return v4 !== undefined && isIP(v4) === 4 && (v4.startsWith('127.') || v4.startsWith('0.'));
}

const WEIGHTS_FIELD = 'spec.model.pretrained';

/**
 * A file:// URI beneath one of the workers' own volumeMounts names a file in a volume the run mounted (a PVC,
 * ConfigMap, Secret or emptyDir: no hostPath is offered, pod-template-schema.ts), not the node's disk. Only the
 * weights may be read so: the workers alone read them, while the dataset is read by the coordinator and the
 * cluster's dataset service too. `..` segments are resolved before the comparison (URL parsing does it).
 */
function isBeneathWorkerVolume(run: TrainingRun, uri: string): boolean {
  let file: string;
  try {
    file = fileURLToPath(uri);
  } catch {
    return false; // a host other than localhost, or an encoded '/'
  }
  return (run.spec.workers.volumeMounts ?? []).some((mount) =>
    file.startsWith(`${mount.mountPath.replace(/\/+$/, '')}/`)
  );
}

/** Every URI-valued field of a spec, with its path. */
function uriFields(run: TrainingRun): [string, string][] {
  const { spec } = run;
  const fields: [string, string | undefined][] = [
    ['spec.model.pretrained', spec.model.pretrained],
    ['spec.dataset.uri', spec.dataset.uri],
    ['spec.dataset.ingest.source', spec.dataset.ingest?.source],
    ['spec.dataset.ingest.into', spec.dataset.ingest?.into],
    ['spec.output.uri', spec.output.uri],
    ['spec.checkpoint.uri', spec.checkpoint.uri]
  ];
  return fields.filter((field): field is [string, string] => field[1] !== undefined);
}

/**
 * What in `run` the policy refuses, one line per field naming it, why, and the setting that would allow it
 * (empty: allowed). Pure: the planner fails such a run before creating anything, and `operator render` shows it.
 */
export function uriPolicyViolations(run: TrainingRun, policy: UriPolicy = DEFAULT_URI_POLICY): string[] {
  const problems: string[] = [];
  const hostAllowed = (host: string) => policy.hosts.some((allowed) => allowed.toLowerCase() === host.toLowerCase());
  const checkHost = (field: string, url: URL) => {
    if (isLinkLocalOrMetadata(url.hostname) || isLocalAddress(url.hostname))
      problems.push(`${field}: ${url.hostname} is a loopback, link-local or metadata address, which no run may reach`);
    else if (!hostAllowed(url.hostname))
      problems.push(
        `${field}: host ${url.hostname} is not allowed in this cluster (the operator's --allowed-uri-hosts; now: ${policy.hosts.join(', ') || 'none'})`
      );
  };
  for (const [field, value] of uriFields(run)) {
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value)?.[1]?.toLowerCase();
    if (scheme === undefined) continue; // the schema already refuses a URI without a scheme
    if (scheme === 'file') {
      if (field === WEIGHTS_FIELD && isBeneathWorkerVolume(run, value)) continue;
      problems.push(
        `${field}: file:// reads the node's disk, which no run may do in a cluster; use s3://${field === WEIGHTS_FIELD ? ', or a path beneath one of spec.workers.volumeMounts (a PVC of weights)' : ''}`
      );
      continue;
    }
    if (!policy.schemes.includes(scheme)) {
      problems.push(
        `${field}: ${scheme}:// is not allowed in this cluster (the operator's --allowed-uri-schemes; now: ${policy.schemes.join(', ')})`
      );
      continue;
    }
    if (scheme === 'http' || scheme === 'https') checkHost(field, new URL(value));
  }
  // The object store a run's pods talk to, with the run's own credentials: any host (the chart's MinIO, a
  // cloud's S3, a MinIO beside the pod) but the metadata service, where those requests would fetch the node's.
  const endpoint = run.spec.storage?.endpoint;
  if (endpoint !== undefined && isLinkLocalOrMetadata(new URL(endpoint).hostname))
    problems.push(
      `spec.storage.endpoint: ${new URL(endpoint).hostname} is a link-local or metadata address, which no run may reach`
    );
  return problems;
}
