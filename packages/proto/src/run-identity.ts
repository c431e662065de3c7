import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * A run's TLS identity as its pods see it: a directory (a mounted Secret) holding the run's own CA certificate
 * and the one certificate and key that every pod of the run presents. Whoever holds them is a member of that run:
 * the coordinator's gRPC and HTTPS servers and every collective link verify the other side against the run's CA,
 * never a cluster-wide one, so a pod of another run (another CA) can neither join the ring nor talk to the
 * coordinator.
 */
export const RUN_IDENTITY_FILES = { ca: 'ca.crt', certificate: 'tls.crt', privateKey: 'tls.key' } as const;

/**
 * The name every certificate of a run carries and every client checks, whatever address it dialled (a Service,
 * a pod's DNS name, an IP, a port-forward): the CA is the run's own, so the name only has to be the same on both
 * sides, not the address.
 */
export const RUN_IDENTITY_SERVER_NAME = 'ringtrain-run';

export interface RunIdentityPems {
  readonly ca: Buffer;
  readonly certificate: Buffer;
  readonly privateKey: Buffer;
  /** The directory they came from: the collective's threads read the files themselves. */
  readonly dir: string;
}

/** Reads a run's identity from its directory, or says which file is missing and what provides it. */
export function readRunIdentity(dir: string): RunIdentityPems {
  const read = (file: string): Buffer => {
    const where = path.join(dir, file);
    try {
      return readFileSync(where);
    } catch (error) {
      throw new Error(
        `cannot read the run's TLS identity ${where} (${(error as Error).message}); RINGTRAIN_TLS_DIR must name the mounted Secret the operator creates for the run (<run>-token, keys ${Object.values(RUN_IDENTITY_FILES).join(', ')})`,
        { cause: error }
      );
    }
  };
  return {
    ca: read(RUN_IDENTITY_FILES.ca),
    certificate: read(RUN_IDENTITY_FILES.certificate),
    privateKey: read(RUN_IDENTITY_FILES.privateKey),
    dir
  };
}
