import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { get, type RequestOptions } from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { ApiextensionsV1Api } from '@kubernetes/client-node';
import { eventually } from '@ringtrain/testing';
import { parse } from 'yaml';
import { createCrd, statusCodeOf } from './kube-api.js';
import { startOperator, type RunningOperator } from './operator.js';
import { POD_GROUPS, POD_GROUP_GROUP, POD_GROUP_LABEL, POD_GROUP_VERSION } from '../resources/pod-group.js';
import {
  createRun,
  namespace,
  operatorOptions,
  podsOf,
  runBody,
  runStatus,
  startKubeWithTrainingRuns,
  type KubeWithTrainingRuns
} from './training-runs.test-helper.js';

/**
 * Gang scheduling without a queue: the PodGroup the operator creates, against the coscheduling plugin's own CRD
 * (kubernetes-sigs/scheduler-plugins v0.34.1-devel, from the Go module proxy by
 * scripts/install-scheduler-plugins-crds.sh) in a real kube-apiserver. No scheduler runs here: what is proven is the
 * objects the plugin reads (PodGroup, pod label, schedulerName), on its real schema, not its placement.
 */
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const installScript = path.join(repoRoot, 'scripts/install-scheduler-plugins-crds.sh');

function podGroupCrd(): { file: string } | { skip: string } {
  const installed = spawnSync('bash', [installScript], { encoding: 'utf8' });
  if (installed.status === 0) return { file: path.join(installed.stdout.trim(), 'crd.yaml') };
  if (spawnSync('go', ['version']).error)
    return { skip: `the PodGroup CRD is not cached and the go command is missing to fetch it (${installScript})` };
  throw new Error(`${installScript} failed: ${installed.stderr}`);
}
const crd = podGroupCrd();

let kube: KubeWithTrainingRuns['kube'];
let custom: KubeWithTrainingRuns['custom'];
let operator: RunningOperator | undefined;

describe(
  "gang scheduling through the coscheduling plugin's PodGroup, on scheduler-plugins' real CRD",
  { timeout: 300_000, ...('skip' in crd ? { skip: crd.skip } : {}) },
  () => {
    before(async () => {
      if ('skip' in crd) return;
      ({ kube, custom } = await startKubeWithTrainingRuns());
      const extensions = kube.kubeConfig.makeApiClient(ApiextensionsV1Api);
      assert.equal(await createCrd(kube.kubeConfig, parse(readFileSync(crd.file, 'utf8')) as object), 'created');
      await eventually('the PodGroup CRD to be Established', async () => {
        const stored = await extensions.readCustomResourceDefinition({ name: `${POD_GROUPS}.${POD_GROUP_GROUP}` });
        return stored.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')
          ? true
          : undefined;
      });
      operator = await startOperator({
        ...operatorOptions(kube, new Map()),
        podGroupScheduler: 'scheduler-plugins-scheduler'
      });
      await operator.leading;
    });

    after(async () => {
      await operator?.stop();
      await kube?.stop();
    });

    it('creates the PodGroup (minMember = workers + coordinator) before the pods, each pod labelled with it and scheduled by the coscheduling scheduler', async () => {
      const run = await createRun(
        runBody('ganged', { runPolicy: { gangScheduling: { podGroup: { scheduleTimeoutSeconds: 120 } } } })
      );
      const pods = await eventually('the gang', async () => {
        const list = await podsOf('ganged');
        return list.length === 3 ? list : undefined;
      });
      const group = (await custom.getNamespacedCustomObject({
        group: POD_GROUP_GROUP,
        version: POD_GROUP_VERSION,
        namespace,
        plural: POD_GROUPS,
        name: 'ganged'
      })) as {
        spec: { minMember: number; scheduleTimeoutSeconds?: number };
        metadata: { ownerReferences?: { uid: string }[] };
      };
      assert.equal(group.spec.minMember, 3);
      assert.equal(group.spec.scheduleTimeoutSeconds, 120);
      assert.equal(group.metadata.ownerReferences?.[0]?.uid, run.metadata?.uid);
      for (const pod of pods) {
        assert.equal(pod.metadata?.labels?.[POD_GROUP_LABEL], 'ganged');
        assert.equal(pod.spec?.schedulerName, 'scheduler-plugins-scheduler');
      }
    });

    it("takes the spec's scheduler name over the operator's", async () => {
      await createRun(
        runBody('ganged-own', { runPolicy: { gangScheduling: { podGroup: { schedulerName: 'coscheduler' } } } })
      );
      const pods = await eventually('the gang', async () => {
        const list = await podsOf('ganged-own');
        return list.length === 3 ? list : undefined;
      });
      for (const pod of pods) assert.equal(pod.spec?.schedulerName, 'coscheduler');
    });

    it('makes no PodGroup for a run that does not ask for one', async () => {
      await createRun(runBody('unganged'));
      const pods = await eventually('the gang', async () => {
        const list = await podsOf('unganged');
        return list.length === 3 ? list : undefined;
      });
      for (const pod of pods) assert.equal(pod.metadata?.labels?.[POD_GROUP_LABEL], undefined);
      const error = await custom
        .getNamespacedCustomObject({
          group: POD_GROUP_GROUP,
          version: POD_GROUP_VERSION,
          namespace,
          plural: POD_GROUPS,
          name: 'unganged'
        })
        .then(
          () => undefined,
          (e: unknown) => e
        );
      assert.equal(statusCodeOf(error), 404);
    });

    it('shows spec.runPolicy.gangScheduling in the OpenAPI that kubectl explain reads', async () => {
      const cluster = kube.kubeConfig.getCurrentCluster();
      assert.ok(cluster);
      const url = new URL('/openapi/v3/apis/ringtrain.dev/v1alpha1', cluster.server);
      const options: RequestOptions = {};
      await kube.kubeConfig.applyToHTTPSOptions(options);
      const text = await new Promise<string>((resolve, reject) => {
        get(url, options, (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (body += chunk));
          response.on('end', () => resolve(body));
        }).on('error', reject);
      });
      assert.match(text, /"gangScheduling":\{[^]*"podGroup":\{[^]*minMember = workers\.replicas \+ 1/);
    });

    it('fails a run asking for a PodGroup from an operator started without --pod-group-scheduler, before it starts', async () => {
      await operator?.stop();
      operator = await startOperator(operatorOptions(kube, new Map()));
      await operator.leading;
      await createRun(runBody('ganged-refused', { runPolicy: { gangScheduling: { podGroup: {} } } }));
      const status = await eventually(
        'the run to fail',
        runStatus('ganged-refused', (s) => s.phase === 'Failed')
      );
      assert.match(status.conditions?.find((c) => c.type === 'Failed')?.message ?? '', /--pod-group-scheduler/);
      assert.deepEqual(await podsOf('ganged-refused'), []);
    });
  }
);
