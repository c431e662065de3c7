import { readFileSync } from 'node:fs';
import { createPrivateKey, createPublicKey, hkdfSync, randomBytes, webcrypto } from 'node:crypto';
import type * as X509 from '@peculiar/x509';
import { RUN_IDENTITY_SERVER_NAME } from '@ringtrain/proto';
import { names } from './names.js';

/** What a run's identity derives from: its metadata as the API server holds it (a TrainingRun is one). */
export interface RunIdentityRef {
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string | undefined;
    readonly uid?: string | undefined;
    readonly creationTimestamp?: string | Date | undefined;
  };
}

/** The PEM files of a run's identity, as its Secret holds them (see RUN_IDENTITY_FILES). */
export interface RunTlsIdentity {
  readonly ca: string;
  readonly certificate: string;
  readonly privateKey: string;
}

/** The least key material an operator key may have: HKDF gives no more strength than what goes in. */
export const MIN_OPERATOR_KEY_BYTES = 32;
/**
 * How long a run's certificates are valid: longer than any run lasts, so no certificate expires under a running
 * run and none has to rotate. Their reach ends with the run anyway: the Secret is the run's (deleted with it), and
 * the CA signs for that one run only.
 */
export const RUN_CERTIFICATE_LIFETIME_DAYS = 3650;
/** notBefore lies this far before the run's creation: a node whose clock lags the API server's still accepts it. */
const CLOCK_SKEW_MS = 60 * 60 * 1000;
/** A PKCS #8 Ed25519 private key is this fixed prefix and the 32-byte seed (RFC 8410). */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const ED25519 = { name: 'Ed25519' } as const;
/** Runs whose CA certificate is kept, for the operator's reads of /status: the oldest go first beyond this. */
const CACHED_RUNS = 1024;

/**
 * @peculiar/x509, loaded on first use: the CLI imports this package's index for every command, and only the
 * operator issues certificates.
 */
let x509Module: Promise<typeof X509> | undefined;
function loadX509(): Promise<typeof X509> {
  x509Module ??= (async () => {
    // It resolves its ASN.1 schemas through tsyringe, which needs the Reflect metadata API first.
    await import('reflect-metadata');
    const x509 = await import('@peculiar/x509');
    x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
    return x509;
  })();
  return x509Module;
}

/**
 * Each run's credentials, derived from one operator key and the run's uid: its token, and a CA of its own with
 * the one certificate every pod of the run presents. Derived, not random, so that the operator never has to read
 * a Secret back (its RBAC on Secrets is `create` only) to present the token to a coordinator's /status or check
 * that coordinator's certificate, even after it restarts. Ed25519 signatures are deterministic, so the same key
 * and run always give the same certificates: the Secret the operator would write is the one already there.
 */
export class RunIdentityIssuer {
  private readonly cas = new Map<string, Promise<X509.X509Certificate>>();

  constructor(private readonly key: Buffer) {
    if (key.length < MIN_OPERATOR_KEY_BYTES)
      throw new Error(
        `the operator key has ${key.length} bytes; it needs at least ${MIN_OPERATOR_KEY_BYTES} random bytes (the chart makes one: Secret <release>-operator-key)`
      );
  }

  /** A key read from a file (a mounted Secret), e.g. `--identity-key-file`. */
  static fromFile(path: string): RunIdentityIssuer {
    let key: Buffer;
    try {
      key = readFileSync(path);
    } catch (error) {
      throw new Error(`cannot read the operator key at ${path}: ${(error as Error).message}`, { cause: error });
    }
    return new RunIdentityIssuer(key);
  }

  /** A key that lives as long as this process: a restarted operator can no longer read its earlier runs' /status. */
  static ephemeral(): RunIdentityIssuer {
    return new RunIdentityIssuer(randomBytes(MIN_OPERATOR_KEY_BYTES));
  }

  /** The run's shared secret: workers present it to the coordinator, the collective derives its tokens from it. */
  token(run: RunIdentityRef): string {
    return this.derive(run, 'token').toString('base64url');
  }

  /** The run's CA certificate (PEM): what a coordinator's HTTPS answer is checked against. */
  async caCertificate(run: RunIdentityRef): Promise<string> {
    return (await this.ca(run)).toString('pem');
  }

  /** The run's CA and the certificate and key its pods present, for its Secret. */
  async tls(run: RunIdentityRef): Promise<RunTlsIdentity> {
    const x509 = await loadX509();
    const ca = await this.ca(run);
    const caKeys = await this.keyPair(run, 'ca key');
    const leafKeys = await this.keyPair(run, 'pod key');
    const { notBefore, notAfter } = validity(run);
    const namespace = run.metadata.namespace ?? 'default';
    const service = names.coordinatorService(run.metadata.name);
    const certificate = await x509.X509CertificateGenerator.create({
      serialNumber: this.serial(run, 'pod serial'),
      subject: `CN=${RUN_IDENTITY_SERVER_NAME}, O=ringtrain run ${namespace}/${run.metadata.name}`,
      issuer: ca.subject,
      notBefore,
      notAfter,
      signingKey: caKeys.privateKey,
      publicKey: leafKeys.publicKey,
      signingAlgorithm: ED25519,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        // Every pod is both ends: a coordinator or ring server, and a client of the others.
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        new x509.SubjectAlternativeNameExtension([
          { type: 'dns', value: RUN_IDENTITY_SERVER_NAME },
          // So that `curl --cacert ca.crt https://<run>-coordinator.<ns>.svc:8080/status` checks out as well.
          { type: 'dns', value: service },
          { type: 'dns', value: `${service}.${namespace}` },
          { type: 'dns', value: `${service}.${namespace}.svc` }
        ])
      ]
    });
    const privateKey = x509.PemConverter.encode(
      await webcrypto.subtle.exportKey('pkcs8', leafKeys.privateKey),
      'PRIVATE KEY'
    );
    return { ca: ca.toString('pem'), certificate: certificate.toString('pem'), privateKey };
  }

  private ca(run: RunIdentityRef): Promise<X509.X509Certificate> {
    const uid = requireUid(run);
    let ca = this.cas.get(uid);
    if (ca === undefined) {
      ca = this.issueCa(run);
      // A rejected issue is not kept: the next call tries again.
      ca.catch(() => this.cas.delete(uid));
      if (this.cas.size >= CACHED_RUNS) this.cas.delete(this.cas.keys().next().value as string);
      this.cas.set(uid, ca);
    }
    return ca;
  }

  private async issueCa(run: RunIdentityRef): Promise<X509.X509Certificate> {
    const x509 = await loadX509();
    const keys = await this.keyPair(run, 'ca key');
    return x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: this.serial(run, 'ca serial'),
      name: `CN=ringtrain run CA, O=ringtrain run ${run.metadata.namespace ?? 'default'}/${run.metadata.name}`,
      ...validity(run),
      keys,
      signingAlgorithm: ED25519,
      extensions: [
        // pathLength 0: it signs the run's pod certificate, never another CA.
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)
      ]
    });
  }

  private async keyPair(run: RunIdentityRef, purpose: string): Promise<webcrypto.CryptoKeyPair> {
    const pkcs8 = Buffer.concat([ED25519_PKCS8_PREFIX, this.derive(run, purpose)]);
    const spki = createPublicKey(createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' })).export({
      format: 'der',
      type: 'spki'
    });
    return {
      privateKey: await webcrypto.subtle.importKey('pkcs8', pkcs8, ED25519, true, ['sign']),
      publicKey: await webcrypto.subtle.importKey('spki', spki, ED25519, true, ['verify'])
    };
  }

  /** A positive 128-bit serial number, as hex. */
  private serial(run: RunIdentityRef, purpose: string): string {
    const bytes = this.derive(run, purpose).subarray(0, 16);
    bytes[0] = (bytes[0] ?? 0) & 0x7f;
    return bytes.toString('hex');
  }

  private derive(run: RunIdentityRef, purpose: string): Buffer {
    return Buffer.from(hkdfSync('sha256', this.key, requireUid(run), `ringtrain run ${purpose}`, 32));
  }
}

function requireUid(run: RunIdentityRef): string {
  const uid = run.metadata.uid;
  if (!uid) throw new Error(`TrainingRun ${run.metadata.name} has no metadata.uid: its identity derives from it`);
  return uid;
}

/** From the run's creation, so the same run always gets the same dates (and so the same certificates). */
function validity(run: RunIdentityRef): { notBefore: Date; notAfter: Date } {
  const created = Date.parse(String(run.metadata.creationTimestamp ?? ''));
  if (Number.isNaN(created))
    throw new Error(
      `TrainingRun ${run.metadata.name} has no metadata.creationTimestamp: its certificates' dates derive from it`
    );
  const notBefore = new Date(created - CLOCK_SKEW_MS);
  return { notBefore, notAfter: new Date(notBefore.getTime() + RUN_CERTIFICATE_LIFETIME_DAYS * 86_400_000) };
}
