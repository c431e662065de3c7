import type { V1Secret } from '@kubernetes/client-node';
import { readSecretFile } from '@ringtrain/proto';
import { AssumeRoleProvider } from 'minio/dist/esm/AssumeRoleProvider.mjs';
import type { TrainingRun } from '../api/training-run.js';
import {
  buildStorageCredentialsSecret,
  MAX_SESSION_POLICY_CHARS,
  runPrefixes,
  sessionPolicy,
  type ManagedStore,
  type TemporaryCredentials
} from '../resources/storage-credentials.js';

/** The cluster's store as the operator reaches it, with the admin credential it mints from. */
export interface StoreAdmin extends ManagedStore {
  /** Where the operator reaches the store's STS API; default `endpoint`. */
  readonly apiEndpoint?: string;
  readonly region?: string;
  /**
   * A mounted Secret (in the operator's namespace only) with files AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY:
   * a MinIO user allowed what runs may be given (the root user works). Read at each mint, so a rotation holds.
   */
  readonly credentialsDir: string;
  /** Lifetime of a run's credentials (MinIO allows 900 s to 365 days); renewed at half of it. */
  readonly durationSeconds?: number;
}

/** 12 h: renewed every 6 h, so an operator down for less than that leaves no run without working keys. */
export const DEFAULT_CREDENTIALS_SECONDS = 12 * 3600;
/** MinIO's AssumeRole bounds (docs/sts/assume-role.md in minio/minio). */
const MIN_SECONDS = 900;
const MAX_SECONDS = 365 * 24 * 3600;

/** What writes the Secret: create, or replace the whole Secret when it exists (KubeApi.putSecret). */
export type SecretWriter = (secret: V1Secret) => Promise<unknown>;

/** Asks STS for temporary credentials under `policy`; replaced in unit tests. */
export type Mint = (admin: StoreAdmin, policy: string, durationSeconds: number) => Promise<TemporaryCredentials>;

interface Minted {
  readonly policy: string;
  readonly renewAt: number;
}

/**
 * Keeps each run's minted credentials Secret fresh. The operator never reads Secrets (that would need `get` on
 * every Secret it can see), so what it minted is remembered here: after an operator restart each run gets new
 * credentials at its first reconcile (the old ones stay valid until they expire), and the Secret is replaced.
 */
export class StorageCredentialsMinter {
  private readonly minted = new Map<string, Minted>();
  private readonly durationSeconds: number;

  constructor(
    readonly admin: StoreAdmin,
    private readonly writeSecret: SecretWriter,
    private readonly mint: Mint = assumeRole,
    private readonly now: () => number = Date.now
  ) {
    this.durationSeconds = admin.durationSeconds ?? DEFAULT_CREDENTIALS_SECONDS;
    if (!(this.durationSeconds >= MIN_SECONDS && this.durationSeconds <= MAX_SECONDS))
      throw new RangeError(
        `store credentials duration must be ${MIN_SECONDS}..${MAX_SECONDS} seconds (MinIO's AssumeRole bounds), got ${this.durationSeconds}`
      );
  }

  /**
   * Mints the run's credentials when it has none from this process, they are due for renewal, or its prefixes
   * changed; writes them to the run's Secret. Returns how long until they are due again (the reconcile's requeue).
   */
  async ensure(run: TrainingRun): Promise<number> {
    const uid = run.metadata.uid ?? '';
    const policy = sessionPolicy(runPrefixes(run));
    if (policy.length > MAX_SESSION_POLICY_CHARS)
      throw new Error(
        `the storage policy of TrainingRun ${run.metadata.name} has ${policy.length} characters, more than STS takes (${MAX_SESSION_POLICY_CHARS}): its URIs are too many or too long`
      );
    const known = this.minted.get(uid);
    const now = this.now();
    if (known && known.policy === policy && now < known.renewAt) return known.renewAt - now;
    const credentials = await this.mint(this.admin, policy, this.durationSeconds);
    await this.writeSecret(buildStorageCredentialsSecret(run, credentials));
    const lifetime = credentials.expiresAt.getTime() - now;
    const renewAt = now + Math.max(60_000, Math.floor(lifetime / 2));
    this.minted.set(uid, { policy, renewAt });
    return renewAt - now;
  }

  /** A run that ended or went away needs no renewal. */
  forget(uid: string | undefined): void {
    if (uid !== undefined) this.minted.delete(uid);
  }
}

/** What provides the store admin's key files, for an error that says where to look. */
const STORE_ADMIN_SOURCE = 'the store admin credential, --store-credentials-dir';

/** MinIO's (or any S3 server's) STS AssumeRole, signed with the admin credential read from its mounted Secret. */
export async function assumeRole(
  admin: StoreAdmin,
  policy: string,
  durationSeconds: number
): Promise<TemporaryCredentials> {
  const [accessKey, secretKey] = await Promise.all([
    readSecretFile(admin.credentialsDir, 'AWS_ACCESS_KEY_ID', STORE_ADMIN_SOURCE),
    readSecretFile(admin.credentialsDir, 'AWS_SECRET_ACCESS_KEY', STORE_ADMIN_SOURCE)
  ]);
  const provider = new AssumeRoleProvider({
    stsEndpoint: admin.apiEndpoint ?? admin.endpoint,
    accessKey,
    secretKey,
    region: admin.region ?? 'us-east-1',
    durationSeconds,
    policy
  });
  let credentials;
  try {
    credentials = await provider.getCredentials();
  } catch (error) {
    throw new Error(
      `cannot mint storage credentials at ${admin.apiEndpoint ?? admin.endpoint} (STS AssumeRole): ${error instanceof Error ? error.message : String(error)}`,
      { cause: error }
    );
  }
  // Declared private in minio's typings, but the only place the provider keeps STS's Expiration.
  const expiresAt = new Date((provider as unknown as { accessExpiresAt: string }).accessExpiresAt);
  const sessionToken = credentials.getSessionToken();
  if (!sessionToken || Number.isNaN(expiresAt.getTime()))
    throw new Error(`STS at ${admin.endpoint} answered without a session token or an expiry`);
  return { accessKey: credentials.getAccessKey(), secretKey: credentials.getSecretKey(), sessionToken, expiresAt };
}
