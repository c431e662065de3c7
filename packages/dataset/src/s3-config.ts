import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/** Where and how to reach an S3-compatible server (MinIO in our clusters). */
export type S3Config = {
  /** e.g. `http://minio.ringtrain.svc:9000`; https endpoints use TLS. */
  endpoint: string;
  region: string;
  /** MinIO and most self-hosted servers need path-style URLs (`host/bucket/key`). */
  pathStyle: boolean;
  accessKey: string;
  secretKey: string;
  sessionToken?: string;
};

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
 * Reads the S3 configuration from the environment, once, at the edge. Credentials come from
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or from a mounted Kubernetes Secret: RINGTRAIN_S3_CREDENTIALS_DIR
 * names a directory holding files `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (the Secret's keys), which
 * keeps secrets out of the pod spec and out of `ps`.
 */
export function s3ConfigFromEnv(env: NodeJS.ProcessEnv = process.env): S3Config {
  // An empty variable counts as unset, as Kubernetes renders an optional value that is absent.
  const parsed = envSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, value]) => value !== '')));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
    throw new Error(`invalid S3 environment: ${problems}`);
  }
  const vars = parsed.data;
  const endpoint = vars.RINGTRAIN_S3_ENDPOINT ?? vars.AWS_ENDPOINT_URL_S3 ?? vars.AWS_ENDPOINT_URL;
  if (!endpoint) {
    throw new Error(
      's3:// URIs need an endpoint: set RINGTRAIN_S3_ENDPOINT (e.g. http://127.0.0.1:9000) or AWS_ENDPOINT_URL'
    );
  }
  let accessKey = vars.AWS_ACCESS_KEY_ID;
  let secretKey = vars.AWS_SECRET_ACCESS_KEY;
  if (vars.RINGTRAIN_S3_CREDENTIALS_DIR && (!accessKey || !secretKey)) {
    accessKey = readSecret(vars.RINGTRAIN_S3_CREDENTIALS_DIR, 'AWS_ACCESS_KEY_ID');
    secretKey = readSecret(vars.RINGTRAIN_S3_CREDENTIALS_DIR, 'AWS_SECRET_ACCESS_KEY');
  }
  if (!accessKey || !secretKey) {
    throw new Error(
      's3:// URIs need credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or RINGTRAIN_S3_CREDENTIALS_DIR to a mounted Secret'
    );
  }
  return {
    endpoint,
    region: vars.AWS_REGION ?? vars.AWS_DEFAULT_REGION ?? 'us-east-1',
    pathStyle: vars.RINGTRAIN_S3_PATH_STYLE !== 'false',
    accessKey,
    secretKey,
    ...(vars.AWS_SESSION_TOKEN ? { sessionToken: vars.AWS_SESSION_TOKEN } : {})
  };
}

function readSecret(dir: string, name: string): string {
  const file = path.join(dir, name);
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`cannot read S3 credential ${file} (RINGTRAIN_S3_CREDENTIALS_DIR): ${reason}`);
  }
}
