import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CollectiveEndpoint,
  CollectiveTimeoutError,
  PeerLostError,
  PeerRefusedError,
  ProcessGroup,
  type TlsFiles
} from './index.js';

/** A CA and one certificate it signs for 127.0.0.1, made with the openssl command (as an operator would). */
function makePki(dir: string, name: string): TlsFiles {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  openssl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '1',
    '-subj',
    `/CN=${name} CA`,
    '-keyout',
    `${name}-ca.key`,
    '-out',
    `${name}-ca.pem`
  );
  openssl(
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-subj',
    '/CN=ringtrain-rank',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`
  );
  writeFileSync(
    join(dir, `${name}.ext`),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n'
  );
  openssl(
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${name}-ca.pem`,
    '-CAkey',
    `${name}-ca.key`,
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    `${name}.ext`,
    '-out',
    `${name}.pem`
  );
  return { caFile: join(dir, `${name}-ca.pem`), certFile: join(dir, `${name}.pem`), keyFile: join(dir, `${name}.key`) };
}

test(
  'ranks with certificates from the shared CA form a group over mutual TLS; a stranger cannot join',
  { timeout: 60_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ringtrain-tls-'));
    try {
      const trusted = makePki(dir, 'run');
      const stranger = makePki(dir, 'other');
      const endpoints = await Promise.all([trusted, trusted].map((tls) => CollectiveEndpoint.listen({ tls })));
      const peers = endpoints.map((endpoint) => endpoint.address);
      const groups = await Promise.all(
        endpoints.map((endpoint, rank) =>
          ProcessGroup.connect(endpoint, { groupId: 'tls', generation: 0, rank, worldSize: 2, peers, token: 't' })
        )
      );
      const data = groups.map((group) => Float32Array.of(group.rank, 10));
      await Promise.all(groups.map((group, rank) => group.allReduce(data[rank]!)));
      assert.deepEqual(
        data.map((values) => [...values]),
        [
          [1, 20],
          [1, 20]
        ]
      );
      await Promise.all(groups.map((group) => group.close()));
      await Promise.all(endpoints.map((endpoint) => endpoint.close()));

      const mixed = await Promise.all([trusted, stranger].map((tls) => CollectiveEndpoint.listen({ tls })));
      const mixedPeers = mixed.map((endpoint) => endpoint.address);
      const attempts = await Promise.allSettled(
        mixed.map((endpoint, rank) =>
          ProcessGroup.connect(endpoint, {
            groupId: 'tls',
            generation: 1,
            rank,
            worldSize: 2,
            peers: mixedPeers,
            token: 't',
            connectTimeoutMs: 2_000
          })
        )
      );
      for (const attempt of attempts) {
        assert.equal(attempt.status, 'rejected');
        const reason = (attempt as PromiseRejectedResult).reason;
        assert.ok(
          reason instanceof CollectiveTimeoutError ||
            reason instanceof PeerRefusedError ||
            reason instanceof PeerLostError,
          String(reason)
        );
      }
      await Promise.all(mixed.map((endpoint) => endpoint.close()));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
);
