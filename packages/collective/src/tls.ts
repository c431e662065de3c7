import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';

/**
 * PEM files for TLS between ranks. With `caFile`, peers verify each other's certificates against it; the
 * server also demands a client certificate (mTLS) unless `requireClientCertificate` is false.
 */
export interface TlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
  requireClientCertificate?: boolean;
  /** The name the peers' certificates carry, when it is not the host in their address. */
  serverName?: string;
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new Error(`cannot read the collective's TLS ${what} at ${path}: ${(error as Error).message}`, { cause: error });
  }
}

export function serverCredentials(tls: TlsFiles | undefined): grpc.ServerCredentials {
  if (tls === undefined) return grpc.ServerCredentials.createInsecure();
  return grpc.ServerCredentials.createSsl(
    readPem(tls.caFile, 'CA certificate'),
    [{ cert_chain: readPem(tls.certFile, 'certificate'), private_key: readPem(tls.keyFile, 'private key') }],
    tls.requireClientCertificate ?? true,
  );
}

export function channelCredentials(tls: TlsFiles | undefined): grpc.ChannelCredentials {
  if (tls === undefined) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(
    readPem(tls.caFile, 'CA certificate'),
    readPem(tls.keyFile, 'private key'),
    readPem(tls.certFile, 'certificate'),
  );
}
