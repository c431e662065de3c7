import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { S3Store } from '@ringtrain/dataset';
import { startOperator, type RunningOperator } from '@ringtrain/operator';
import {
  RELEASE,
  chartDir,
  defaultValues,
  helmTemplate,
  kubectlBinary,
  productionValues,
  repoRoot,
  run,
  runOk,
  start,
  type Ran,
  type Started,
  type ValuesSet
} from './tools.js';
import { eventually, freePort, minioBinary, startKubeTestServer, type KubeTestServer } from '@ringtrain/testing';

/**
 * The rendered chart against a real kube-apiserver + etcd (scripts/install-kube-test-servers.sh): every object
 * passes the server's validation (server-side dry run, after the chart's CRDs), and the operator's RBAC is
 * proven by running the real operator under the chart's ServiceAccount and by asking the authorizer.
 */

interface Container {
  readonly name: string;
  readonly command?: string[];
  readonly args?: string[];
  readonly env?: Array<{ readonly name: string; readonly value?: string }>;
}

/** A Deployment's or StatefulSet's pod template, as the API server stored it. */
interface Workload {
  readonly spec: {
    readonly template: { readonly spec: { readonly containers: Container[]; readonly initContainers?: Container[] } };
  };
}

interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string };
  readonly spec?: Record<string, unknown>;
}

const operatorSa = `${RELEASE}-ringtrain-operator`;
const cli = path.join(repoRoot, 'packages', 'cli', 'bin', 'ringtrain.mjs');
const runNamespace = 'ml';

let kube: KubeTestServer;
let dir = '';
let kubeconfig = '';

const kubectl = (args: readonly string[], input?: string): Promise<Ran> =>
  run(kubectlBinary, ['--kubeconfig', kubeconfig, ...args], input);
const kubectlOk = (args: readonly string[], input?: string): Promise<string> =>
  runOk(kubectlBinary, ['--kubeconfig', kubeconfig, ...args], input);

async function rendered(values: ValuesSet): Promise<string> {
  const result = await helmTemplate(values);
  assert.equal(result.code, 0, result.stderr);
  return result.stdout;
}

describe('the chart on a real kube-apiserver', { timeout: 300_000 }, () => {
  before(async () => {
    kube = await startKubeTestServer();
    dir = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-chart-'));
    kubeconfig = path.join(dir, 'kubeconfig.json');
    await writeFile(kubeconfig, kube.kubeConfig.exportConfig(), { mode: 0o600 });
    // CRDs first (helm installs crds/ before templates), then the namespaces the two values sets use. The
    // namespaces warn about anything the restricted Pod Security Standard would refuse.
    await kubectlOk(['apply', '--server-side', '-f', path.join(chartDir, 'crds')]);
    await kubectlOk(['wait', '--for=condition=Established', 'crd/trainingruns.ringtrain.dev', '--timeout=60s']);
    for (const namespace of [defaultValues.namespace, productionValues.namespace, runNamespace]) {
      await kubectlOk(['create', 'namespace', namespace]);
      await kubectlOk([
        'label',
        'namespace',
        namespace,
        'pod-security.kubernetes.io/warn=restricted',
        'pod-security.kubernetes.io/enforce=restricted'
      ]);
    }
  });

  after(async () => {
    await kube?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const values of [defaultValues, productionValues]) {
    it(`accepts every object of the ${values.name} (server-side dry run), within the restricted Pod Security Standard`, async () => {
      const manifests = await rendered(values);
      const documents = manifests.split(/^---$/m).filter((doc) => /^kind: /m.test(doc)).length;
      const result = await kubectl(['apply', '--dry-run=server', '-o', 'json', '-f', '-'], manifests);
      assert.equal(result.code, 0, result.stderr);
      assert.doesNotMatch(result.stderr, /would violate PodSecurity|Warning/, result.stderr);
      const list = JSON.parse(result.stdout) as { items?: KubeObject[] } & KubeObject;
      const items = list.items ?? [list];
      assert.equal(items.length, documents, 'every rendered object came back from the server');
      // The server filled in its defaults: proof these went through its decoding and admission, not a linter.
      const deployment = items.find(
        (o) => o.kind === 'Deployment' && o.metadata.name === `${RELEASE}-ringtrain-operator`
      );
      assert.ok(deployment, 'the operator Deployment');
      assert.deepEqual((deployment.spec?.strategy as { type?: string } | undefined)?.type, 'RollingUpdate');
    });
  }

  it('refuses a broken object (the dry run is a real check)', async () => {
    const manifests = (await rendered(defaultValues)).replace(
      'port: 8081\n      targetPort: http',
      'port: 808100\n      targetPort: http'
    );
    const result = await kubectl(['apply', '--dry-run=server', '-f', '-'], manifests);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /spec\.ports\[0\]\.port: Invalid value: 808100/);
  });

  describe('with the chart applied: the operator’s RBAC and the command lines of its workloads', () => {
    before(async () => {
      for (const values of [defaultValues, productionValues])
        await kubectlOk(['apply', '-f', '-'], await rendered(values));
    });

    /** Credentials of the operator's ServiceAccount: a token from the TokenRequest API, as a pod would mount. */
    async function operatorKubeConfig(releaseNamespace: string): Promise<KubeConfig> {
      const token = (
        await kubectlOk(['create', 'token', operatorSa, '--namespace', releaseNamespace, '--duration=1h'])
      ).trim();
      const config = new KubeConfig();
      config.loadFromOptions({
        clusters: [{ name: 'test', server: kube.server, skipTLSVerify: true }],
        users: [{ name: operatorSa, token }],
        contexts: [{ name: 'test', cluster: 'test', user: operatorSa }],
        currentContext: 'test'
      });
      return config;
    }

    const leaseHolder = (namespace: string) =>
      kubectlOk([
        'get',
        'lease',
        'ringtrain-operator',
        '--namespace',
        namespace,
        '-o',
        'jsonpath={.spec.holderIdentity}'
      ]);

    /**
     * `kubectl auth can-i` as the operator's ServiceAccount of one release namespace. A resource is written as
     * kubectl takes it (`leases.coordination.k8s.io/<name>`); `resource:subresource` asks about a subresource.
     */
    async function canI(
      releaseNamespace: string,
      verb: string,
      resource: string,
      namespace?: string
    ): Promise<boolean> {
      const [plain, subresource] = resource.split(':');
      const args = ['auth', 'can-i', verb, plain ?? resource, ...(subresource ? [`--subresource=${subresource}`] : [])];
      const where = namespace === undefined ? ['--all-namespaces'] : ['--namespace', namespace];
      const result = await kubectl([...args, ...where, `--as=system:serviceaccount:${releaseNamespace}:${operatorSa}`]);
      const answer = result.stdout.trim();
      if (answer !== 'yes' && answer !== 'no') throw new Error(`kubectl ${args.join(' ')}: ${result.stderr}`);
      return answer === 'yes';
    }

    // What packages/operator/src/controller/kube-api.ts calls, and what it must not be able to do.
    const needed: Array<[string, string]> = [
      ['list', 'trainingruns.ringtrain.dev'],
      ['watch', 'trainingruns.ringtrain.dev'],
      ['delete', 'trainingruns.ringtrain.dev'],
      ['patch', 'trainingruns.ringtrain.dev:status'],
      ['update', 'trainingruns.ringtrain.dev:finalizers'],
      ['list', 'pods'],
      ['watch', 'pods'],
      ['create', 'pods'],
      ['delete', 'pods'],
      ['get', 'services'],
      ['create', 'services'],
      ['create', 'secrets'],
      ['get', 'configmaps'],
      ['create', 'configmaps'],
      ['get', 'networkpolicies.networking.k8s.io'],
      ['create', 'networkpolicies.networking.k8s.io'],
      ['create', 'events']
    ];
    const refused: Array<[string, string]> = [
      ['get', 'trainingruns.ringtrain.dev'],
      ['update', 'trainingruns.ringtrain.dev'],
      ['patch', 'trainingruns.ringtrain.dev'],
      ['create', 'trainingruns.ringtrain.dev'],
      ['update', 'trainingruns.ringtrain.dev:status'],
      ['update', 'pods'],
      ['patch', 'pods'],
      ['patch', 'pods:status'],
      ['create', 'pods:exec'],
      ['get', 'secrets'],
      ['list', 'secrets'],
      ['watch', 'secrets'],
      ['delete', 'secrets'],
      ['delete', 'services'],
      ['update', 'configmaps'],
      ['list', 'networkpolicies.networking.k8s.io'],
      ['update', 'networkpolicies.networking.k8s.io'],
      ['delete', 'networkpolicies.networking.k8s.io'],
      ['create', 'deployments.apps'],
      ['get', 'leases.coordination.k8s.io'],
      ['create', 'leases.coordination.k8s.io']
    ];

    it('grants a cluster-wide operator exactly what it calls, and the Lease only in the release namespace', async () => {
      const ns = defaultValues.namespace;
      for (const [verb, resource] of needed) {
        assert.ok(await canI(ns, verb, resource, runNamespace), `${verb} ${resource} in ${runNamespace} refused`);
        if (verb === 'list' || verb === 'watch')
          assert.ok(await canI(ns, verb, resource), `${verb} ${resource} in all namespaces refused`);
      }
      for (const [verb, resource] of refused)
        assert.ok(!(await canI(ns, verb, resource, runNamespace)), `${verb} ${resource} in ${runNamespace} granted`);
      assert.ok(await canI(ns, 'create', 'leases.coordination.k8s.io', ns));
      assert.ok(await canI(ns, 'get', 'leases.coordination.k8s.io/ringtrain-operator', ns));
      assert.ok(await canI(ns, 'update', 'leases.coordination.k8s.io/ringtrain-operator', ns));
      assert.ok(
        !(await canI(ns, 'update', 'leases.coordination.k8s.io/someone-elses', ns)),
        'another Lease is writable'
      );
      assert.ok(!(await canI(ns, 'create', 'clusterrolebindings.rbac.authorization.k8s.io', ns)));
      assert.ok(!(await canI(ns, 'get', 'nodes', undefined)));
      // With the chart's MinIO it mints each run's storage credentials and replaces their Secret to renew them.
      assert.ok(await canI(ns, 'update', 'secrets', runNamespace), `update secrets in ${runNamespace} refused`);
    });

    it('confines an operator with watchNamespace to that namespace', async () => {
      const ns = productionValues.namespace;
      for (const [verb, resource] of needed)
        assert.ok(await canI(ns, verb, resource, runNamespace), `${verb} ${resource} in ${runNamespace} refused`);
      for (const [verb, resource] of needed)
        assert.ok(!(await canI(ns, verb, resource, 'default')), `${verb} ${resource} in default granted`);
      assert.ok(!(await canI(ns, 'list', 'pods', undefined)), 'list pods in all namespaces granted');
      // No chart MinIO here, so nothing to mint: a Secret is created, never replaced.
      assert.ok(!(await canI(ns, 'update', 'secrets', runNamespace)), `update secrets in ${runNamespace} granted`);
      assert.ok(await canI(ns, 'update', 'leases.coordination.k8s.io/ringtrain-operator', ns));
    });

    const operators: Array<[ValuesSet, string | undefined]> = [
      [defaultValues, undefined],
      [productionValues, runNamespace]
    ];
    for (const [values, watchNamespace] of operators) {
      it(`is enough for the real operator (${watchNamespace ? `watching ${watchNamespace}` : 'all namespaces'}): a run from creation to TTL deletion`, async () => {
        const asOperator = await operatorKubeConfig(values.namespace);
        // Quiet by default; RINGTRAIN_LOG_LEVEL=warn shows each refused call (403) and the start-up retries.
        process.env.RINGTRAIN_LOG_LEVEL ??= 'error';
        const operator: RunningOperator = await startOperator({
          kubeConfig: asOperator,
          ...(watchNamespace ? { namespace: watchNamespace } : {}),
          leaseNamespace: values.namespace,
          leaseDurationSeconds: 4,
          renewDeadlineSeconds: 3,
          retryPeriodSeconds: 1,
          httpPort: null,
          processMetrics: false,
          pollProgressSeconds: 1,
          // No coordinator listens here: progress comes from nowhere, and no request leaves the machine.
          progress: async () => undefined
        });
        const name = `rbac-${watchNamespace ? 'ns' : 'cluster'}`;
        try {
          // Leading needs the Lease (create, get, update) and synced caches (list + watch of runs and pods).
          await Promise.race([
            operator.leading,
            sleep(30_000).then(() => Promise.reject(new Error('the operator did not lead within 30 s')))
          ]);
          assert.equal(await leaseHolder(values.namespace), operator.identity);

          const runManifest = JSON.stringify({
            apiVersion: 'ringtrain.dev/v1alpha1',
            kind: 'TrainingRun',
            metadata: { name, namespace: runNamespace },
            spec: {
              model: { numClasses: 10 },
              dataset: { uri: 's3://datasets/digits' },
              workers: { replicas: 1, image: 'ghcr.io/ringtrain/worker-cpu:0.1.0', gpu: { count: 0 } },
              output: { uri: `s3://runs/${name}` },
              runPolicy: { ttlSecondsAfterFinished: 0 }
            }
          });
          await kubectlOk(['apply', '-f', '-'], runManifest);
          const ns = ['--namespace', runNamespace];
          // Pods, Services, Secret, ConfigMap and NetworkPolicy created (get to see they are missing, then create).
          const objects = [
            `pod/${name}-coordinator`,
            `pod/${name}-worker-0`,
            `service/${name}-coordinator`,
            `service/${name}-workers`,
            `secret/${name}-token`,
            `configmap/${name}-config`,
            `networkpolicy/${name}-network-policy`
          ];
          await eventually('the run’s objects', async () =>
            (await kubectl(['get', ...objects, ...ns])).code === 0 ? true : undefined
          );
          // The status subresource was patched.
          await eventually('a phase in the status', async () =>
            (await kubectlOk(['get', 'tr', name, ...ns, '-o', 'jsonpath={.status.phase}'])) ? true : undefined
          );

          // Play the kubelet: both pods run, then the coordinator exits 0.
          const setPhase = (pod: string, phase: string) =>
            kubectlOk([
              'patch',
              'pod',
              pod,
              ...ns,
              '--subresource=status',
              '--type=merge',
              '-p',
              JSON.stringify({
                status: { phase, conditions: [{ type: 'Ready', status: phase === 'Running' ? 'True' : 'False' }] }
              })
            ]);
          for (const pod of [`${name}-coordinator`, `${name}-worker-0`]) await setPhase(pod, 'Running');
          await eventually('phase Running', async () =>
            (await kubectlOk(['get', 'tr', name, ...ns, '-o', 'jsonpath={.status.phase}'])) === 'Running'
              ? true
              : undefined
          );
          await setPhase(`${name}-coordinator`, 'Succeeded');

          // Finished: cleanPodPolicy All deletes the pods, ttlSecondsAfterFinished 0 deletes the run.
          await eventually('the run deleted at its TTL', async () =>
            (await kubectl(['get', 'tr', name, ...ns])).code !== 0 ? true : undefined
          );
          const pods = await kubectlOk(['get', 'pods', ...ns, '-l', `ringtrain.dev/run=${name}`, '-o', 'name']);
          assert.equal(pods.trim(), '', 'the pods were deleted');
          // Events were recorded by the operator.
          const reasons = await kubectlOk([
            'get',
            'events',
            ...ns,
            '--field-selector',
            `involvedObject.name=${name}`,
            '-o',
            'jsonpath={.items[*].reason}'
          ]);
          assert.match(reasons, /Succeeded/, `events: ${reasons}`);
        } finally {
          await operator.stop();
        }
        // A stopping leader releases the Lease (an update), so a standby takes over at once.
        assert.equal(await leaseHolder(values.namespace), '');
      });
    }

    /** A workload of the default values as stored by the API server. */
    async function workload(kind: 'deployment' | 'statefulset', name: string): Promise<Workload> {
      return JSON.parse(
        await kubectlOk([
          'get',
          kind,
          `${RELEASE}-ringtrain-${name}`,
          '--namespace',
          defaultValues.namespace,
          '-o',
          'json'
        ])
      ) as Workload;
    }

    /** Waits for `ready`, failing at once (with the process's output) if the process ends first. */
    async function whileRunning(
      started: Started,
      what: string,
      ready: () => Promise<true | undefined>,
      timeoutMs = 90_000
    ): Promise<void> {
      const diedFirst = started.exited.then((code) =>
        Promise.reject(new Error(`exited ${code} before ${what}:\n${started.output()}`))
      );
      diedFirst.catch(() => undefined);
      await Promise.race([eventually(what, ready, { timeoutMs }), diedFirst]);
    }

    it('starts the operator from the Deployment’s own command line, which leads and exits 0 on SIGTERM', async () => {
      const ns = defaultValues.namespace;
      const container = (await workload('deployment', 'operator')).spec.template.spec.containers[0];
      assert.deepEqual(container?.command, ['ringtrain', 'operator']);
      // The operator key as the kubelet would mount it: the chart's Secret, read back from the cluster.
      const keySecret = JSON.parse(
        await kubectlOk(['get', 'secret', `${RELEASE}-ringtrain-operator-key`, '--namespace', ns, '-o', 'json'])
      ) as { data: { key: string } };
      const keyFile = path.join(dir, 'operator-key');
      await writeFile(keyFile, Buffer.from(keySecret.data.key, 'base64'), { mode: 0o600 });
      // The chart's flags as they are, but a free port here, the key where this machine has it, and a name to find
      // in the Lease.
      const args = [
        ...(container?.args ?? [])
          .filter((arg) => !arg.startsWith('--http-port='))
          .map((arg) => (arg.startsWith('--identity-key-file=') ? `--identity-key-file=${keyFile}` : arg)),
        '--http-port=0',
        '--identity=from-the-deployment'
      ];
      assert.ok(args.includes(`--identity-key-file=${keyFile}`), 'the Deployment passes the operator key');
      const file = path.join(dir, 'operator-kubeconfig.json');
      await writeFile(file, (await operatorKubeConfig(ns)).exportConfig(), { mode: 0o600 });
      const operator = start(process.execPath, [cli, 'operator', ...args], {
        ...process.env,
        KUBECONFIG: file,
        POD_NAMESPACE: ns,
        RINGTRAIN_LOG_LEVEL: 'warn'
      });
      try {
        // An operator that dies first (a flag the CLI no longer takes, say) fails at once, with its output.
        await whileRunning(operator, 'the operator led', async () =>
          (await leaseHolder(ns)) === 'from-the-deployment' ? true : undefined
        );
      } finally {
        operator.child.kill('SIGTERM');
      }
      assert.equal(await operator.exited, 0, operator.output());
      assert.equal(await leaseHolder(ns), '', 'the Lease is released on SIGTERM');
    });

    it('starts the dataset service from its Deployment’s command line and environment', async () => {
      const container = (await workload('deployment', 'dataset-service')).spec.template.spec.containers[0];
      assert.deepEqual(container?.command, ['ringtrain', 'dataset-service']);
      const port = await freePort();
      // Bound to loopback on a free port here; the datasets, as the chart passes them, are what is checked.
      const args = (container?.args ?? []).map((arg) =>
        arg.startsWith('--port=') ? `--port=${port}` : arg.startsWith('--host=') ? '--host=127.0.0.1' : arg
      );
      const env = Object.fromEntries((container?.env ?? []).map((v) => [v.name, v.value ?? '']));
      assert.equal(env.RINGTRAIN_S3_ENDPOINT, `http://${RELEASE}-ringtrain-minio.${defaultValues.namespace}.svc:9000`);
      const service = start(process.execPath, [cli, 'dataset-service', ...args], { ...process.env, ...env });
      try {
        await whileRunning(service, 'the dataset service listened', async () =>
          service
            .output()
            .includes(`listening on 127.0.0.1:${port}, serving s3://datasets/digits, s3://datasets/flowers`)
            ? true
            : undefined
        );
      } finally {
        service.child.kill('SIGTERM');
      }
      assert.equal(await service.exited, 0, service.output());
    });

    it('runs MinIO as the StatefulSet does: its init container’s buckets take writes with no bucket created through the API', async () => {
      const sts = (await workload('statefulset', 'minio')).spec.template.spec;
      const init = sts.initContainers?.[0];
      const server = sts.containers[0];
      assert.ok(init?.command && server?.command, 'the init container and the server have commands');
      // The chart's own commands, with the pod's paths mapped into a temporary directory and the API on loopback.
      const data = path.join(dir, 'minio-data');
      const certs = path.join(dir, 'minio-certs');
      await mkdir(data);
      const port = await freePort();
      const local = (arg: string) =>
        arg
          .replaceAll('/data', data)
          .replaceAll('/tmp/certs', certs)
          .replace('--address=:9000', `--address=127.0.0.1:${port}`);
      const initCommand = init.command.map(local);
      assert.equal(initCommand[0], 'sh');
      await runOk('sh', [...initCommand.slice(1), ...(init.args ?? [])]);

      const secret = JSON.parse(
        await kubectlOk([
          'get',
          'secret',
          `${RELEASE}-ringtrain-minio`,
          '--namespace',
          defaultValues.namespace,
          '-o',
          'json'
        ])
      ) as { data: Record<string, string> };
      const decode = (key: string) => Buffer.from(secret.data[key] ?? '', 'base64').toString();
      const [binary, ...serverArgs] = server.command.map(local);
      assert.equal(binary, 'minio');
      const env = Object.fromEntries(
        (server.env ?? []).filter((v) => v.value !== undefined).map((v) => [v.name, v.value ?? ''])
      );
      const minio = start(minioBinary(), serverArgs, {
        ...process.env,
        ...env,
        MINIO_ROOT_USER: decode('AWS_ACCESS_KEY_ID'),
        MINIO_ROOT_PASSWORD: decode('AWS_SECRET_ACCESS_KEY')
      });
      try {
        const endpoint = `http://127.0.0.1:${port}`;
        await whileRunning(
          minio,
          'MinIO was ready',
          async () => ((await fetch(`${endpoint}/minio/health/ready`)).ok ? true : undefined),
          60_000
        );
        const config = {
          endpoint,
          region: 'us-east-1',
          pathStyle: true,
          accessKey: decode('AWS_ACCESS_KEY_ID'),
          secretKey: decode('AWS_SECRET_ACCESS_KEY')
        };
        const out = new S3Store('runs', 'chart-test', config);
        await out.put('model/model.safetensors', Buffer.from('weights'));
        assert.equal((await out.stat('model/model.safetensors'))?.size, 7);
        for (const bucket of ['datasets', 'models'])
          assert.deepEqual(await new S3Store(bucket, '', config).list(''), [], `bucket ${bucket}`);
      } finally {
        minio.child.kill('SIGTERM');
        await minio.exited;
      }
    });
  });
});
