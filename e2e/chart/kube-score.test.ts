import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  RELEASE,
  defaultValues,
  helmTemplate,
  kubeScoreBinary,
  productionValues,
  repoRoot,
  run,
  type ValuesSet
} from './tools.js';

/**
 * kube-score on what we ship: the chart as helm renders it, and the objects the operator creates for every
 * example TrainingRun (`ringtrain operator render`). Every CRITICAL finding fails the test; a finding that is a
 * deliberate choice is silenced on its object with a `kube-score/ignore` annotation, and every check so
 * ignored must be explained in docs/operator.md's "What kube-score says".
 */

const cli = path.join(repoRoot, 'packages', 'cli', 'bin', 'ringtrain.mjs');
const examplesDir = path.join(repoRoot, 'deploy', 'examples');
const operatorDoc = path.join(repoRoot, 'docs', 'operator.md');

/**
 * One line of `kube-score score --output-format ci`, e.g. `[CRITICAL] rt-x/ns apps/v1/Deployment: (c) CPU limit is not
 * set`, or `[OK] rt-x/ns apps/v1/Deployment`.
 */
interface Finding {
  readonly grade: string;
  readonly object: string;
  readonly message: string;
}

async function score(manifests: string): Promise<Finding[]> {
  // Exit 1 means "a CRITICAL finding", which the caller reports; anything on stderr means it could not read them.
  const result = await run(kubeScoreBinary(), ['score', '-', '--output-format', 'ci'], manifests);
  assert.ok(result.code === 0 || result.code === 1, `kube-score exited ${result.code}:\n${result.stderr}`);
  assert.equal(result.stderr, '', 'kube-score could not read every object');
  return result.stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      // An OK line names the object only.
      const match = /^\[(\w+)\] (\S+ \S+?)(?:: (.*))?$/.exec(line);
      assert.ok(match, `not a line of kube-score's ci output: ${line}`);
      return { grade: match[1]!, object: match[2]!, message: match[3] ?? '' };
    });
}

/** The findings that fail: CRITICAL ones (kube-score leaves out what an annotation ignores, marked SKIPPED). */
function unexplained(findings: readonly Finding[]): string[] {
  return findings.filter((f) => f.grade === 'CRITICAL').map((f) => `${f.object}: ${f.message}`);
}

/** The objects scored, e.g. `rt-ringtrain-operator/ringtrain-system apps/v1/Deployment`. */
function scored(findings: readonly Finding[]): Set<string> {
  return new Set(findings.map((f) => f.object));
}

async function chart(values: ValuesSet): Promise<string> {
  const result = await helmTemplate(values);
  assert.equal(result.code, 0, result.stderr);
  return result.stdout;
}

/** Every example, rendered as the chart's operator (release `rt` in ringtrain-system) would create it. */
async function renderedExamples(): Promise<string> {
  const files = (await readdir(examplesDir)).filter((f) => f.endsWith('.yaml')).sort();
  assert.ok(files.length >= 4, files.join(', '));
  const stream = (await Promise.all(files.map((f) => readFile(path.join(examplesDir, f), 'utf8')))).join('\n---\n');
  const result = await run(
    process.execPath,
    [
      cli,
      'operator',
      'render',
      '-f',
      '-',
      '--dataset-service',
      `${RELEASE}-ringtrain-dataset-service.ringtrain-system:7070`,
      '--operator-namespace',
      'ringtrain-system',
      '--operator-pod-labels',
      `app.kubernetes.io/name=ringtrain,app.kubernetes.io/instance=${RELEASE},app.kubernetes.io/component=operator`
    ],
    stream
  );
  assert.equal(result.code, 0, result.stderr);
  return result.stdout;
}

/** The check IDs in every `kube-score/ignore` annotation of a manifest stream. */
function ignoredChecks(manifests: string): Set<string> {
  const ids = [...manifests.matchAll(/^\s+kube-score\/ignore: ['"]?([^'"\n]+)['"]?$/gm)].flatMap((m) =>
    m[1]!.split(',').map((id) => id.trim())
  );
  return new Set(ids);
}

/** The check IDs docs/operator.md explains, in the first column of its "What kube-score says" table. */
async function explainedChecks(): Promise<Set<string>> {
  const doc = await readFile(operatorDoc, 'utf8');
  const section = /^## What kube-score says\n([\s\S]*?)(?=^## )/m.exec(doc)?.[1];
  assert.ok(section, 'docs/operator.md has no "## What kube-score says" section');
  return new Set([...section.matchAll(/^\| `([a-z0-9-]+)` \|/gm)].map((m) => m[1]!));
}

async function knownChecks(): Promise<Set<string>> {
  const result = await run(kubeScoreBinary(), ['list']);
  assert.equal(result.code, 0, result.stderr);
  return new Set(result.stdout.split('\n').map((line) => line.split(',')[0]!));
}

describe('kube-score on what we ship', { timeout: 120_000 }, () => {
  it('fails, naming scripts/install-kube-score.sh, when kube-score is missing', () => {
    const saved = process.env.RINGTRAIN_KUBE_SCORE_BIN;
    process.env.RINGTRAIN_KUBE_SCORE_BIN = path.join(repoRoot, 'no-such-kube-score');
    try {
      assert.throws(
        () => kubeScoreBinary(),
        /kube-score not found at .*no-such-kube-score: run `bash scripts\/install-kube-score\.sh`/
      );
    } finally {
      if (saved === undefined) delete process.env.RINGTRAIN_KUBE_SCORE_BIN;
      else process.env.RINGTRAIN_KUBE_SCORE_BIN = saved;
    }
  });

  it('reports a Deployment without limits, probes or NetworkPolicy as unexplained (the check can fail)', async () => {
    const bare = [
      'apiVersion: apps/v1',
      'kind: Deployment',
      'metadata: { name: bare, namespace: x }',
      'spec:',
      '  selector: { matchLabels: { app: bare } }',
      '  template:',
      '    metadata: { labels: { app: bare } }',
      '    spec:',
      '      containers: [{ name: c, image: "busybox:1.36" }]'
    ].join('\n');
    const findings = unexplained(await score(bare));
    assert.ok(
      findings.some((f) => f === 'bare/x apps/v1/Deployment: (c) CPU limit is not set'),
      findings.join('\n')
    );
    assert.ok(
      findings.some((f) => /does not have a matching NetworkPolicy/.test(f)),
      findings.join('\n')
    );
  });

  for (const values of [defaultValues, productionValues]) {
    it(`finds nothing unexplained in the chart with the ${values.name}`, async () => {
      const findings = await score(await chart(values));
      const objects = scored(findings);
      for (const object of [
        `${RELEASE}-ringtrain-operator/${values.namespace} apps/v1/Deployment`,
        `${RELEASE}-ringtrain-dataset-service/${values.namespace} apps/v1/Deployment`
      ])
        assert.ok(objects.has(object), `${object} was not scored: ${[...objects].join(', ')}`);
      if (values === defaultValues)
        assert.ok(objects.has(`${RELEASE}-ringtrain-minio/${values.namespace} apps/v1/StatefulSet`));
      assert.deepEqual(unexplained(findings), []);
    });
  }

  it('finds nothing unexplained in the objects the operator creates for deploy/examples', async () => {
    const findings = await score(await renderedExamples());
    const objects = scored(findings);
    for (const object of [
      'cpu-smoke-worker-0/default v1/Pod',
      'cpu-smoke-coordinator/default v1/Pod',
      'flowers-raw-worker-1/default v1/Pod',
      'queued-worker-7/default v1/Pod',
      'flowers-network-policy/default networking.k8s.io/v1/NetworkPolicy'
    ])
      assert.ok(objects.has(object), `${object} was not scored: ${[...objects].join(', ')}`);
    assert.deepEqual(unexplained(findings), []);
  });

  it('ignores only checks that kube-score has and that docs/operator.md explains', async () => {
    const manifests = [await chart(defaultValues), await chart(productionValues), await renderedExamples()];
    const ignored = new Set(manifests.flatMap((m) => [...ignoredChecks(m)]));
    assert.ok(ignored.size > 0, 'no kube-score/ignore annotation found: has the pattern gone stale?');
    const [known, explained] = await Promise.all([knownChecks(), explainedChecks()]);
    for (const id of ignored) {
      assert.ok(known.has(id), `kube-score/ignore names ${id}, which is no check of kube-score (kube-score list)`);
      assert.ok(explained.has(id), `kube-score/ignore: ${id} is not explained in docs/operator.md`);
    }
    for (const id of explained)
      assert.ok(ignored.has(id), `docs/operator.md explains ${id}, which nothing we ship ignores any more`);
  });
});
