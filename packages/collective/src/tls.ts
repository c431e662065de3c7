import { readFileSync } from 'node:fs';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import type { SecureClientSessionOptions, SecureServerOptions } from 'node:http2';

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
    throw new Error(`cannot read the collective's TLS ${what} at ${path}: ${(error as Error).message}`, {
      cause: error
    });
  }
}

function pems(tls: TlsFiles): { ca: Buffer; cert: Buffer; key: Buffer } {
  return {
    ca: readPem(tls.caFile, 'CA certificate'),
    cert: readPem(tls.certFile, 'certificate'),
    key: readPem(tls.keyFile, 'private key')
  };
}

export function serverTlsOptions(tls: TlsFiles): SecureServerOptions {
  const requireClientCertificate = tls.requireClientCertificate ?? true;
  return {
    ...pems(tls),
    requestCert: requireClientCertificate,
    rejectUnauthorized: requireClientCertificate,
    ALPNProtocols: ['h2']
  };
}

export function clientTlsOptions(tls: TlsFiles): SecureClientSessionOptions {
  const serverName = tls.serverName;
  return {
    ...pems(tls),
    ALPNProtocols: ['h2'],
    ...(serverName !== undefined
      ? {
          servername: serverName,
          checkServerIdentity: (_host: string, certificate: PeerCertificate) =>
            checkServerIdentity(serverName, certificate)
        }
      : {})
  };
}
