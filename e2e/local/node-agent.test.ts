import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { eventually, startKubeTestServer, type KubeTestServer } from '@ringtrain/testing';
import { NodeAgent } from './node-agent.js';

/**
 * The node agent on its own, with small Node.js pods instead of Ringtrain's: what the training suite relies
 * on (environment, volumes, cluster DNS, pod addresses, exit codes, deletion) is proved here in seconds, so a
 * failure of the training suite points at Ringtrain, not at its kubelet.
 */

const namespace = 'default';
let kube: KubeTestServer;
let core: CoreV1Api;
let agent: NodeAgent;
let workDir: string;

function nodePod(
  name: string,
  script: string,
  extra: {
    labels?: Record<string, string>;
    hostname?: string;
    subdomain?: string;
    env?: NonNullable<V1Pod['spec']>['containers'][number]['env'];
    args?: string[];
  } = {}
): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: { app: 'probe', ...extra.labels } },
    spec: {
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 5,
      ...(extra.hostname ? { hostname: extra.hostname } : {}),
      ...(extra.subdomain ? { subdomain: extra.subdomain } : {}),
      volumes: [
        { name: 'tmp', emptyDir: {} },
        { name: 'config', configMap: { name: 'probe-config' } }
      ],
      containers: [
        {
          name: 'probe',
          image: 'e2e:probe',
          command: ['node', '-e', script],
          args: extra.args ?? [],
          env: extra.env ?? [],
          volumeMounts: [
            { name: 'tmp', mountPath: '/tmp' },
            { name: 'config', mountPath: '/etc/ringtrain-e2e-probe/config', readOnly: true }
          ]
        }
      ]
    }
  };
}

async function podStatus(name: string) {
  return (await core.readNamespacedPodStatus({ namespace, name })).status;
}

async function terminatedWith(name: string) {
  return eventually(
    `pod ${name} to finish`,
    async () => {
      const status = await podStatus(name);
      const terminated = status?.containerStatuses?.[0]?.state?.terminated;
      return status?.phase === 'Succeeded' || status?.phase === 'Failed'
        ? { phase: status.phase, exitCode: terminated?.exitCode, reason: terminated?.reason }
        : undefined;
    },
    { timeoutMs: 60_000, describe: async () => `${agent.timeline.join('\n')}\n${await agent.logTail(name)}` }
  );
}

describe('the e2e node agent (a process-based kubelet) against a real kube-apiserver', { timeout: 180_000 }, () => {
  before(async () => {
    kube = await startKubeTestServer();
    core = kube.kubeConfig.makeApiClient(CoreV1Api);
    workDir = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-e2e-agent-'));
    agent = await NodeAgent.start({ kubeConfig: kube.kubeConfig, namespace, workDir, niceness: 0 });
    await core.createNamespacedSecret({
      namespace,
      body: { metadata: { name: 'probe-secret' }, stringData: { token: 'from-the-secret' } }
    });
    await core.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: 'probe-config' }, data: { 'run.json': '{"from":"the-config-map"}' } }
    });
    await core.createNamespacedService({
      namespace,
      body: { metadata: { name: 'probe-api' }, spec: { selector: { role: 'server' }, ports: [{ port: 7000 }] } }
    });
    await core.createNamespacedService({
      namespace,
      body: {
        metadata: { name: 'probes' },
        spec: { clusterIP: 'None', selector: { app: 'probe' }, ports: [{ port: 7000 }] }
      }
    });
  });

  after(async () => {
    await agent?.stop();
    await kube?.stop();
    await rm(workDir, { recursive: true, force: true });
  });

  it('binds and runs a pod with its env, Secret and ConfigMap, address and cluster DNS; reports Succeeded', async () => {
    // Listens on "0.0.0.0", which the agent turns into the pod's own address; answers with its hostname.
    const server = `require('node:http').createServer((q, s) => s.end(require('node:os').hostname())).listen(7000, process.argv[1]);`;
    await core.createNamespacedPod({
      namespace,
      body: nodePod('server', server, {
        labels: { role: 'server' },
        hostname: 'server',
        subdomain: 'probes',
        args: ['0.0.0.0']
      })
    });
    const client = `
      const fs = require('node:fs');
      const dns = require('node:dns').promises;
      (async () => {
        const answers = {
          token: process.env.TOKEN,
          podIp: process.env.POD_IP,
          config: fs.readFileSync('/etc/ringtrain-e2e-probe/config/run.json', 'utf8'),
          viaService: await (await fetch('http://probe-api:7000/')).text(),
          viaHeadless: await (await fetch('http://server.probes.default.svc:7000/')).text(),
          serverAddress: (await dns.lookup('server.probes.default.svc.cluster.local')).address,
          leakedFromTestRunner: process.env.RINGTRAIN_E2E_PROBE !== undefined,
        };
        fs.writeFileSync('/tmp/own-tmp', 'ok');
        console.log('ANSWERS ' + JSON.stringify(answers));
      })().catch((e) => { console.error(e); process.exit(2); });`;
    process.env.RINGTRAIN_E2E_PROBE = 'must not leak into pods';
    try {
      await core.createNamespacedPod({
        namespace,
        body: nodePod('client', client, {
          env: [
            { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'probe-secret', key: 'token' } } },
            { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }
          ]
        })
      });
      assert.deepEqual(await terminatedWith('client'), { phase: 'Succeeded', exitCode: 0, reason: 'Completed' });
    } finally {
      delete process.env.RINGTRAIN_E2E_PROBE;
    }
    const clientStatus = await podStatus('client');
    const serverStatus = await podStatus('server');
    assert.equal((await core.readNamespacedPod({ namespace, name: 'client' })).spec?.nodeName, agent.nodeName);
    assert.equal(serverStatus?.phase, 'Running');
    assert.notEqual(clientStatus?.podIP, serverStatus?.podIP);
    const log = await agent.logTail('client');
    const answers = JSON.parse(/ANSWERS (.*)/.exec(log)?.[1] ?? '{}') as Record<string, unknown>;
    assert.deepEqual(answers, {
      token: 'from-the-secret',
      podIp: clientStatus?.podIP,
      config: '{"from":"the-config-map"}',
      viaService: 'server',
      viaHeadless: 'server',
      serverAddress: serverStatus?.podIP,
      leakedFromTestRunner: false
    });
    assert.ok(!existsSync('/tmp/own-tmp'), "the pod's /tmp is its own emptyDir");
  });

  it('reports a failing exit code, and 128 + signal for a killed process', async () => {
    await core.createNamespacedPod({ namespace, body: nodePod('failing', 'process.exit(3)') });
    assert.deepEqual(await terminatedWith('failing'), { phase: 'Failed', exitCode: 3, reason: 'Error' });
    await core.createNamespacedPod({ namespace, body: nodePod('sleeper', 'setInterval(() => {}, 1000)') });
    const sleeper = await eventually('the sleeper to run', async () => agent.processOf('sleeper'), {
      timeoutMs: 30_000
    });
    process.kill(sleeper.pid, 'SIGKILL');
    assert.deepEqual(await terminatedWith('sleeper'), { phase: 'Failed', exitCode: 137, reason: 'Error' });
  });

  it('on deletion: SIGTERM, the terminal status, then the pod is gone; DNS drops it', async () => {
    const server = agent.processOf('server');
    assert.ok(server);
    await core.deleteNamespacedPod({ namespace, name: 'server' });
    await eventually(
      'the server pod to be gone',
      async () =>
        core.readNamespacedPod({ namespace, name: 'server' }).then(
          () => undefined,
          (error: unknown) => ((error as { code?: number }).code === 404 ? true : undefined)
        ),
      { timeoutMs: 30_000, describe: async () => agent.timeline.join('\n') }
    );
    assert.equal(agent.processOf('server'), undefined);
    // node exits on an unhandled SIGTERM by the signal: 128 + 15.
    assert.deepEqual(
      agent.exits.filter((exit) => exit.pod === 'server').map((exit) => exit.exitCode),
      [143]
    );
    const lookup = `require('node:dns').promises.lookup('probe-api').then(() => process.exit(0), () => process.exit(4))`;
    await core.createNamespacedPod({ namespace, body: nodePod('resolver', lookup) });
    assert.equal((await terminatedWith('resolver')).exitCode, 4, 'a Service without a live pod no longer resolves');
  });

  it('leaves no process and no mount point behind when it stops', async () => {
    await core.createNamespacedPod({ namespace, body: nodePod('lingering', 'setInterval(() => {}, 1000)') });
    const lingering = await eventually('the lingering pod to run', async () => agent.processOf('lingering'), {
      timeoutMs: 30_000
    });
    assert.ok(existsSync('/etc/ringtrain-e2e-probe'));
    await agent.stop();
    assert.throws(() => process.kill(lingering.pid, 0), /ESRCH/);
    assert.ok(!existsSync('/etc/ringtrain-e2e-probe'), 'the mount points the agent created (two levels) are removed');
  });
});
