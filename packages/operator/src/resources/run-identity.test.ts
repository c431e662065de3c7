import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { RUN_IDENTITY_SERVER_NAME } from '@ringtrain/proto';
import type { TrainingRun } from '../api/training-run.js';
import { sampleRunInput } from '../api/sample-run.test-helper.js';
import { parseTrainingRun } from '../api/validate.js';
import { RunIdentityIssuer } from './run-identity.js';

function runWithUid(uid: string, name = 'flowers'): TrainingRun {
  const run = parseTrainingRun(sampleRunInput({ name }));
  return {
    ...run,
    metadata: { ...run.metadata, name, uid, namespace: 'team-a', creationTimestamp: '2026-12-01T10:00:00Z' }
  };
}

describe('RunIdentityIssuer', () => {
  const key = randomBytes(32);
  const runA = runWithUid('0b6f1c4e-aaaa-4000-8000-000000000001');
  const runB = runWithUid('0b6f1c4e-bbbb-4000-8000-000000000002');

  it('derives the same token and certificates again from the same key and run, so the Secret never has to be read back', async () => {
    const first = new RunIdentityIssuer(key);
    const second = new RunIdentityIssuer(Buffer.from(key));
    assert.equal(first.token(runA), second.token(runA));
    assert.ok(first.token(runA).length >= 40, 'a 256-bit token');
    assert.deepEqual(await first.tls(runA), await second.tls(runA));
    assert.equal(await first.caCertificate(runA), (await second.tls(runA)).ca);
  });

  it('gives every run its own token and CA, and another key other ones', async () => {
    const issuer = new RunIdentityIssuer(key);
    assert.notEqual(issuer.token(runA), issuer.token(runB));
    assert.notEqual(await issuer.caCertificate(runA), await issuer.caCertificate(runB));
    assert.notEqual(new RunIdentityIssuer(randomBytes(32)).token(runA), issuer.token(runA));
  });

  it("issues a pod certificate that only the run's own CA vouches for, for the name every client checks", async () => {
    const issuer = new RunIdentityIssuer(key);
    const a = await issuer.tls(runA);
    const b = await issuer.tls(runB);
    const caA = new X509Certificate(a.ca);
    const caB = new X509Certificate(b.ca);
    const podA = new X509Certificate(a.certificate);
    assert.equal(caA.ca, true);
    assert.equal(podA.ca, false);
    assert.ok(podA.verify(caA.publicKey), "A's CA signed A's certificate");
    assert.equal(podA.verify(caB.publicKey), false, "B's CA did not");
    assert.ok(podA.checkIssued(caA));
    assert.equal(podA.checkHost(RUN_IDENTITY_SERVER_NAME), RUN_IDENTITY_SERVER_NAME);
    assert.equal(podA.checkHost('flowers-coordinator.team-a.svc'), 'flowers-coordinator.team-a.svc');
    // Valid from (just before) the run's creation for longer than any run lasts.
    assert.ok(new Date(podA.validFrom) <= new Date('2026-12-01T10:00:00Z'));
    assert.ok(new Date(podA.validTo) >= new Date('2036-01-01T00:00:00Z'));
    assert.match(a.privateKey, /^-----BEGIN PRIVATE KEY-----/);
  });

  it('refuses a run without a creation time, which its certificates are dated from', async () => {
    await assert.rejects(
      new RunIdentityIssuer(key).tls({ metadata: { name: 'fresh', uid: 'uid-fresh' } }),
      /no metadata\.creationTimestamp/
    );
  });

  it('refuses a key too short to derive secrets from, and says what to give it', () => {
    assert.throws(() => new RunIdentityIssuer(Buffer.alloc(8)), /at least 32 random bytes/);
  });
});
