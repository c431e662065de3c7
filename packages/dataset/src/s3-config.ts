import { z } from 'zod';
import type { CredentialSource } from './s3-credentials.js';

/** Where and how to reach an S3-compatible server (MinIO in our clusters, or AWS S3). */
export type S3Config = {
  /** e.g. `http://minio.ringtrain.svc:9000`; https endpoints use TLS. AWS S3: `https://s3.<region>.amazonaws.com`. */
  endpoint: string;
  region: string;
  /** MinIO and most self-hosted servers need path-style URLs (`host/bucket/key`); AWS S3 takes virtual hosts. */
  pathStyle: boolean;
} & (
  | { accessKey: string; secretKey: string; sessionToken?: string }
  /** Credentials re-read while the process runs: a rotated Secret, or the AWS default chain. */
  | { credentialSource: CredentialSource }
);

const envSchema = z.object({
  RINGTRAIN_S3_ENDPOINT: z.url().optional(),
  AWS_ENDPOINT_URL_S3: z.url().optional(),
  AWS_ENDPOINT_URL: z.url().optional(),
  AWS_REGION: z.string().min(1).optional(),
  AWS_DEFAULT_REGION: z.string().min(1).optional(),
  RINGTRAIN_S3_PATH_STYLE: z.enum(['true', 'false']).optional(),
  AWS_ACCESS_KEY_ID: z.string().min(1).optional(),
  AWS_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  AWS_SESSION_TOKEN: z.string().min(1).optional(),
  RINGTRAIN_S3_CREDENTIALS_DIR: z.string().min(1).optional()
});

/**
 * Reads the S3 configuration from the environment, once, at the edge. Without an endpoint it is AWS S3 in the
 * region (AWS_REGION, default us-east-1), with virtual-hosted URLs. Credentials, first found wins:
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (static); a mounted Kubernetes Secret, RINGTRAIN_S3_CREDENTIALS_DIR,
 * holding files `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (the Secret's keys), and `AWS_SESSION_TOKEN` for
 * temporary keys (the ones the operator mints per run), which keeps secrets out of the pod spec and out of `ps`,
 * and is re-read when the Secret is rotated or renewed; otherwise the AWS default chain
 * (IRSA, EKS Pod Identity, the instance profile), renewed before expiry.
 */
export function s3ConfigFromEnv(env: NodeJS.ProcessEnv = process.env): S3Config {
  // An empty variable counts as unset, as Kubernetes renders an optional value that is absent.
  const parsed = envSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, value]) => value !== '')));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
    throw new Error(`invalid S3 environment: ${problems}`);
  }
  const vars = parsed.data;
  const region = vars.AWS_REGION ?? vars.AWS_DEFAULT_REGION ?? 'us-east-1';
  const custom = vars.RINGTRAIN_S3_ENDPOINT ?? vars.AWS_ENDPOINT_URL_S3 ?? vars.AWS_ENDPOINT_URL;
  const where = {
    endpoint: custom ?? `https://s3.${region}.amazonaws.com`,
    region,
    // Path style for a self-hosted server (MinIO), virtual hosts for AWS S3, unless said otherwise.
    pathStyle: vars.RINGTRAIN_S3_PATH_STYLE ? vars.RINGTRAIN_S3_PATH_STYLE === 'true' : custom !== undefined
  };
  if (vars.AWS_ACCESS_KEY_ID && vars.AWS_SECRET_ACCESS_KEY) {
    return {
      ...where,
      accessKey: vars.AWS_ACCESS_KEY_ID,
      secretKey: vars.AWS_SECRET_ACCESS_KEY,
      ...(vars.AWS_SESSION_TOKEN ? { sessionToken: vars.AWS_SESSION_TOKEN } : {})
    };
  }
  if (vars.AWS_ACCESS_KEY_ID || vars.AWS_SECRET_ACCESS_KEY) {
    throw new Error(
      'S3 credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY go together; set both, or neither to use RINGTRAIN_S3_CREDENTIALS_DIR or the AWS default chain'
    );
  }
  if (vars.RINGTRAIN_S3_CREDENTIALS_DIR)
    return { ...where, credentialSource: { kind: 'mounted-secret', dir: vars.RINGTRAIN_S3_CREDENTIALS_DIR } };
  return { ...where, credentialSource: { kind: 'aws-default-chain' } };
}
