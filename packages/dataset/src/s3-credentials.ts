import { readSecretFile } from '@ringtrain/proto';
// minio's index does not re-export its provider base class; the package exports this module by path.
import { CredentialProvider } from 'minio/dist/esm/CredentialProvider.mjs';
import { Credentials } from 'minio/dist/esm/Credentials.mjs';

/** What provides a mounted Secret's key files, for an error that says where to look. */
const CREDENTIALS_DIR_SOURCE = 'an S3 credential, RINGTRAIN_S3_CREDENTIALS_DIR';

/**
 * Where an S3 store's credentials come from when they are not static keys, re-read while the process runs:
 * - `mounted-secret`: a Kubernetes Secret mounted as files (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, and
 *   optionally `AWS_SESSION_TOKEN`). The kubelet swaps the files when the Secret changes, so rotated keys are
 *   picked up within `refreshMs`, without a restart.
 * - `aws-default-chain`: the AWS SDK's own default chain (environment, shared config, IRSA's web identity token,
 *   EKS Pod Identity and ECS container credentials, the EC2 instance profile), temporary credentials renewed
 *   before they expire.
 */
export type CredentialSource =
  | { readonly kind: 'mounted-secret'; readonly dir: string; readonly refreshMs?: number }
  | { readonly kind: 'aws-default-chain' };

interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
}

interface Loaded {
  readonly accessKey: string;
  readonly secretKey: string;
  readonly sessionToken?: string;
  /** When to load again: the credentials' expiry less a margin, or the next look at the mounted files. */
  readonly reloadAt: number;
}

/** Renewed before a temporary credential's end, so a request never goes out signed with an expired one. */
const EXPIRY_MARGIN_MS = 5 * 60_000;
const DEFAULT_SECRET_REFRESH_MS = 10_000;

/**
 * The minio client asks its provider before every request; this one loads from `source` again only when the
 * credentials are due, and one load serves every request that arrives while it runs.
 */
export class RefreshingCredentials extends CredentialProvider {
  private loaded: Loaded | undefined;
  private loading: Promise<Loaded> | undefined;
  private readonly load: () => Promise<Loaded>;

  constructor(
    readonly source: CredentialSource,
    private readonly now: () => number = Date.now
  ) {
    super({ accessKey: '', secretKey: '' });
    this.load = source.kind === 'mounted-secret' ? () => this.readMounted(source) : chainLoader(now);
  }

  override async getCredentials(): Promise<Credentials> {
    if (this.loaded === undefined || this.now() >= this.loaded.reloadAt) {
      this.loading ??= this.load().finally(() => (this.loading = undefined));
      this.loaded = await this.loading;
    }
    const { accessKey, secretKey, sessionToken } = this.loaded;
    return new Credentials({ accessKey, secretKey, ...(sessionToken ? { sessionToken } : {}) });
  }

  private async readMounted(source: Extract<CredentialSource, { kind: 'mounted-secret' }>): Promise<Loaded> {
    const [accessKey, secretKey, sessionToken] = await Promise.all([
      readSecretFile(source.dir, 'AWS_ACCESS_KEY_ID', CREDENTIALS_DIR_SOURCE),
      readSecretFile(source.dir, 'AWS_SECRET_ACCESS_KEY', CREDENTIALS_DIR_SOURCE),
      readSecretFile(source.dir, 'AWS_SESSION_TOKEN', CREDENTIALS_DIR_SOURCE).catch(() => undefined)
    ]);
    return {
      accessKey,
      secretKey,
      ...(sessionToken ? { sessionToken } : {}),
      reloadAt: this.now() + (source.refreshMs ?? DEFAULT_SECRET_REFRESH_MS)
    };
  }
}

function chainLoader(now: () => number): () => Promise<Loaded> {
  // The SDK's chain memoizes and renews by itself; asking it again near expiry is what renewal needs. Loaded
  // only by a store that uses it: most processes have static keys or a Secret.
  let chain: (() => Promise<AwsCredentials>) | undefined;
  return async () => {
    let found;
    try {
      chain ??= (await import('@aws-sdk/credential-provider-node')).defaultProvider();
      found = await chain();
    } catch (error) {
      throw new Error(
        `no S3 credentials: none in the environment (AWS_ACCESS_KEY_ID), in RINGTRAIN_S3_CREDENTIALS_DIR, or from the AWS default chain (IRSA, EKS Pod Identity, instance profile): ${error instanceof Error ? error.message : String(error)}`,
        { cause: error }
      );
    }
    const expires = found.expiration?.getTime();
    return {
      accessKey: found.accessKeyId,
      secretKey: found.secretAccessKey,
      ...(found.sessionToken ? { sessionToken: found.sessionToken } : {}),
      reloadAt: expires === undefined ? Number.POSITIVE_INFINITY : Math.max(now(), expires - EXPIRY_MARGIN_MS)
    };
  };
}
