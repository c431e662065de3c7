import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Coordinator } from '@ringtrain/coordinator';
import { parseTrainingRun, RunIdentityIssuer, type TrainingRun } from '@ringtrain/operator';
import { readRunIdentity, RUN_IDENTITY_FILES, RUN_IDENTITY_SERVER_NAME, type RunIdentityPems } from '@ringtrain/proto';
import { CoordinatorConnection, CoordinatorUnavailableError, createLogger, parseRunConfig } from '@ringtrain/protocol';

/** A TrainingRun as the API server holds it: what the operator derives a run's identity from. */
function trainingRun(name: string, uid: string): TrainingRun {
  return parseTrainingRun({
    apiVersion: 'ringtrain.dev/v1alpha1',
    kind: 'TrainingRun',
    metadata: { name, namespace: 'team-a', uid, generation: 1, creationTimestamp: '2026-12-01T10:00:00Z' },
    spec: {
      dataset: { uri: `s3://datasets/${name}` },
      workers: { replicas: 1, image: 'ringtrain:test' },
      output: { uri: `s3://runs/${name}` }
    }
  });
}

/** The run's Secret as the kubelet mounts it (RINGTRAIN_TLS_DIR). */
async function mountIdentity(issuer: RunIdentityIssuer, run: TrainingRun, dir: string): Promise<RunIdentityPems> {
  const tls = await issuer.tls(run);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, RUN_IDENTITY_FILES.ca), tls.ca);
  await writeFile(path.join(dir, RUN_IDENTITY_FILES.certificate), tls.certificate);
  await writeFile(path.join(dir, RUN_IDENTITY_FILES.privateKey), tls.privateKey);
  return readRunIdentity(dir);
}

/** GET over HTTPS, checking the server against `ca` under the run's name. */
function get(url: string, ca: Buffer, token?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = https.get(
      url,
      { ca, servername: RUN_IDENTITY_SERVER_NAME, headers: token ? { authorization: `Bearer ${token}` } : {} },
      (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      }
    );
    request.on('error', reject);
  });
}

describe("a run's identity: the coordinator admits only its own run's pods", () => {
  const issuer = new RunIdentityIssuer(randomBytes(32));
  const runA = trainingRun('flowers', '11111111-aaaa-4000-8000-000000000001');
  const runB = trainingRun('birds', '22222222-bbbb-4000-8000-000000000002');
  let work = '';
  let identityA: RunIdentityPems;
  let identityB: RunIdentityPems;
  let coordinator: Coordinator;

  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-run-identity-'));
    identityA = await mountIdentity(issuer, runA, path.join(work, 'a'));
    identityB = await mountIdentity(issuer, runB, path.join(work, 'b'));
    const config = parseRunConfig(
      {
        runId: 'flowers',
        dataset: path.join(work, 'dataset'),
        out: path.join(work, 'out'),
        workers: 1,
        epochs: 1,
        batchSize: 4,
        partitions: 1,
        training: { numClasses: 2 },
        cacheDir: work
      },
      'the test'
    );
    coordinator = await Coordinator.start({
      config,
      token: issuer.token(runA),
      logger: createLogger({ service: 'coordinator' }, path.join(work, 'coordinator.log')),
      httpPort: 0,
      localHttpPort: 0,
      tls: identityA
    });
  });
  after(async () => {
    await coordinator?.close();
    await rm(work, { recursive: true, force: true });
  });

  const refusedWithin = async (tls: RunIdentityPems | undefined, token: string): Promise<unknown> => {
    const connection = new CoordinatorConnection(
      coordinator.address,
      token,
      { deadlineMs: 1500, onRetry: () => {} },
      tls
    );
    try {
      return await connection.register('worker-0', '127.0.0.1:1').then(
        () => undefined,
        (error: unknown) => error
      );
    } finally {
      connection.close();
    }
  };

  it("refuses a pod of another run (another CA), even one that knows this run's token", async () => {
    assert.ok((await refusedWithin(identityB, issuer.token(runA))) instanceof CoordinatorUnavailableError);
  });

  it('refuses a client without a certificate', async () => {
    assert.ok((await refusedWithin(undefined, issuer.token(runA))) instanceof CoordinatorUnavailableError);
  });

  it('registers a pod of its own run', async () => {
    const connection = new CoordinatorConnection(coordinator.address, issuer.token(runA), {}, identityA);
    try {
      const outcome = await connection.register('worker-0', '127.0.0.1:1');
      assert.equal(outcome.ended, false);
    } finally {
      connection.close();
    }
  });

  it('serves /status over HTTPS to the bearer of the run token only; /healthz to anyone', async () => {
    const base = coordinator.httpAddress ?? '';
    assert.match(base, /^https:\/\//);
    assert.equal(await get(`${base}/status`, identityA.ca), 401);
    assert.equal(await get(`${base}/status`, identityA.ca, issuer.token(runB)), 401);
    assert.equal(await get(`${base}/status`, identityA.ca, issuer.token(runA)), 200);
    assert.equal(await get(`${base}/healthz`, identityA.ca), 200);
    // Checked against another run's CA, the coordinator's certificate is refused: the token never leaves.
    await assert.rejects(get(`${base}/status`, identityB.ca, issuer.token(runA)), /certificate/);
  });

  it('serves plain HTTP without a token on its loopback only, for kubectl port-forward', async () => {
    const local = coordinator.localHttpAddress ?? '';
    assert.match(local, /^http:\/\/127\.0\.0\.1:\d+$/);
    const response = await fetch(`${local}/status`);
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as { runId?: string }).runId, 'flowers');
  });
});
