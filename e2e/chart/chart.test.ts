import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { EXTENDED_RESOURCE_NAME } from '@ringtrain/operator';
import {
  chartDir,
  defaultValues,
  helmBinary,
  helmTemplate,
  productionValues,
  repoRoot,
  run,
  valuesArgs,
  type ValuesSet
} from './tools.js';

/** `kind: X` lines of a rendered manifest stream, with the object's name, e.g. `Deployment/rt-ringtrain-operator`. */
function objects(manifests: string): string[] {
  return manifests
    .split(/^---$/m)
    .map((doc) => {
      const kind = /^kind: (\S+)$/m.exec(doc)?.[1];
      const name = /^metadata:\n(?:[ ].*\n)*?[ ]{2}name: (\S+)$/m.exec(doc)?.[1];
      return kind && name ? `${kind}/${name}` : undefined;
    })
    .filter((object): object is string => object !== undefined);
}

async function renderOk(values: ValuesSet, extra: readonly string[] = []): Promise<string> {
  const result = await helmTemplate(values, extra);
  assert.equal(result.code, 0, `helm template with ${values.name} failed:\n${result.stderr}`);
  return result.stdout;
}

describe('the helm chart (helm lint, helm template, values.schema.json)', () => {
  it('fails, naming scripts/install-helm.sh, when helm is missing', () => {
    const saved = process.env.RINGTRAIN_HELM_BIN;
    process.env.RINGTRAIN_HELM_BIN = path.join(repoRoot, 'no-such-helm');
    try {
      assert.throws(() => helmBinary(), /helm not found at .*no-such-helm: run `bash scripts\/install-helm\.sh`/);
    } finally {
      if (saved === undefined) delete process.env.RINGTRAIN_HELM_BIN;
      else process.env.RINGTRAIN_HELM_BIN = saved;
    }
  });

  for (const values of [defaultValues, productionValues]) {
    it(`passes helm lint --strict with the ${values.name}`, async () => {
      const result = await run(helmBinary(), [
        'lint',
        '--strict',
        chartDir,
        '--namespace',
        values.namespace,
        ...valuesArgs(values)
      ]);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.match(result.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    });
  }

  it('renders the operator, its RBAC, the dataset service, MinIO and the NetworkPolicies with the default values', async () => {
    const rendered = objects(await renderOk(defaultValues));
    for (const object of [
      'ServiceAccount/rt-ringtrain-operator',
      'ClusterRole/rt-ringtrain-operator',
      'ClusterRoleBinding/rt-ringtrain-operator',
      'Role/rt-ringtrain-operator-leader-election',
      'RoleBinding/rt-ringtrain-operator-leader-election',
      'Deployment/rt-ringtrain-operator',
      'Service/rt-ringtrain-operator-metrics',
      'Deployment/rt-ringtrain-dataset-service',
      'Service/rt-ringtrain-dataset-service',
      'StatefulSet/rt-ringtrain-minio',
      'Service/rt-ringtrain-minio',
      'Secret/rt-ringtrain-minio',
      'NetworkPolicy/rt-ringtrain-dataset-service',
      'NetworkPolicy/rt-ringtrain-minio',
      'NetworkPolicy/rt-ringtrain-operator'
    ]) {
      assert.ok(rendered.includes(object), `${object} not in ${rendered.join(', ')}`);
    }
    // One replica: no PodDisruptionBudget, which would block every drain.
    assert.ok(!rendered.some((o) => o.startsWith('PodDisruptionBudget/')), rendered.join(', '));
  });

  it('renders without MinIO, with a Role in the watched namespace and a PodDisruptionBudget for the second values set', async () => {
    const manifests = await renderOk(productionValues);
    const rendered = objects(manifests);
    assert.ok(
      !rendered.some((o) => /minio/i.test(o)),
      `MinIO objects rendered with minio.enabled=false: ${rendered.join(', ')}`
    );
    for (const object of [
      'Role/rt-ringtrain-operator',
      'RoleBinding/rt-ringtrain-operator',
      'PodDisruptionBudget/rt-ringtrain-operator'
    ]) {
      assert.ok(rendered.includes(object), `${object} not in ${rendered.join(', ')}`);
    }
    assert.ok(!rendered.includes('ClusterRole/rt-ringtrain-operator'), 'a namespaced operator got a ClusterRole');
    assert.match(manifests, /value: "https:\/\/s3\.eu-west-1\.amazonaws\.com"/);
    assert.match(manifests, /secretName: s3-credentials/);
  });

  it("leaves run pods to the operator's per-run NetworkPolicies: no namespace-wide policy that would widen them", async () => {
    const manifests = await renderOk(defaultValues);
    const policies = objects(manifests).filter((o) => o.startsWith('NetworkPolicy/'));
    assert.deepEqual(policies.sort(), [
      'NetworkPolicy/rt-ringtrain-dataset-service',
      'NetworkPolicy/rt-ringtrain-minio',
      'NetworkPolicy/rt-ringtrain-operator'
    ]);
    // The operator makes them, may get and create them, and knows its own pods for their /status rule.
    assert.match(manifests, /- --network-policies=true\n/);
    assert.match(
      manifests,
      /- --operator-pod-labels=app\.kubernetes\.io\/name=ringtrain,app\.kubernetes\.io\/instance=rt,app\.kubernetes\.io\/component=operator\n/
    );
    assert.match(
      manifests,
      /- apiGroups: \[networking\.k8s\.io\]\n\s+resources: \[networkpolicies\]\n\s+verbs: \[get, create\]\n/
    );
  });

  it('limits what the chart’s pods may reach: the operator the API, DNS and coordinators; the dataset service its store', async () => {
    const policy = (manifests: string, name: string) =>
      manifests.split(/^---$/m).find((doc) => doc.includes(`kind: NetworkPolicy\nmetadata:\n  name: ${name}\n`)) ?? '';
    const defaults = await renderOk(defaultValues);
    const operator = policy(defaults, 'rt-ringtrain-operator');
    assert.match(operator, /policyTypes: \[Ingress, Egress\]/);
    assert.match(operator, /- port: 443\n\s+protocol: TCP\n\s+- port: 6443\n/);
    assert.match(
      operator,
      /ringtrain\.dev\/role: coordinator\n\s+namespaceSelector: \{\}\n\s+ports:\n\s+- port: 8080\n/
    );
    assert.match(policy(defaults, 'rt-ringtrain-dataset-service'), /component: minio\n\s+ports:\n\s+- port: 9000\n/);
    assert.match(
      policy(defaults, 'rt-ringtrain-minio'),
      /egress:\n\s+- ports:\n\s+- port: 53\n\s+protocol: UDP\n\s+- port: 53\n\s+protocol: TCP\n*$/
    );
    // One watched namespace: the operator reaches coordinators there only; an external store on its URL's port.
    const production = await renderOk(productionValues);
    assert.match(
      policy(production, 'rt-ringtrain-operator'),
      /namespaceSelector:\n\s+matchLabels:\n\s+kubernetes\.io\/metadata\.name: ml\n/
    );
    assert.match(policy(production, 'rt-ringtrain-dataset-service'), /egress:[\s\S]*- ports:\n\s+- port: 443\n/);
    const custom = await renderOk(productionValues, ['--set', 's3.endpoint=http://minio.storage:9100']);
    assert.match(policy(custom, 'rt-ringtrain-dataset-service'), /egress:[\s\S]*- ports:\n\s+- port: 9100\n/);
  });

  it('with networkPolicy.enabled=false: no policies, an operator that makes none, and no RBAC for them', async () => {
    const manifests = await renderOk(defaultValues, ['--set', 'networkPolicy.enabled=false']);
    assert.ok(!objects(manifests).some((o) => o.startsWith('NetworkPolicy/')));
    assert.match(manifests, /- --network-policies=false\n/);
    assert.doesNotMatch(manifests, /--operator-pod-labels|networkpolicies/);
  });

  it('with operator.kueue.enabled: an operator started with --kueue, granted Workloads and a get on ResourceFlavors and PriorityClasses only', async () => {
    assert.match(await renderOk(defaultValues), /- --kueue=false\n/);
    assert.doesNotMatch(await renderOk(defaultValues), /kueue\.x-k8s\.io/);
    // One watched namespace: Workloads in its Role; ResourceFlavors are cluster-scoped, so a ClusterRole of their own.
    const manifests = await renderOk(productionValues, ['--set', 'operator.kueue.enabled=true']);
    assert.match(manifests, /- --kueue=true\n/);
    assert.match(
      manifests,
      /- apiGroups: \[kueue\.x-k8s\.io\]\n\s+resources: \[workloads\]\n\s+verbs: \[list, watch, create, delete\]\n/
    );
    assert.match(
      manifests,
      /- apiGroups: \[kueue\.x-k8s\.io\]\n\s+resources: \[workloads\/status\]\n\s+verbs: \[patch\]\n/
    );
    assert.match(
      manifests,
      /- apiGroups: \[kueue\.x-k8s\.io\]\n\s+resources: \[resourceflavors\]\n\s+verbs: \[get\]\n/
    );
    assert.match(
      manifests,
      /- apiGroups: \[scheduling\.k8s\.io\]\n\s+resources: \[priorityclasses\]\n\s+verbs: \[get\]\n/
    );
    assert.ok(objects(manifests).includes('ClusterRole/rt-ringtrain-operator-kueue'));
    assert.ok(objects(manifests).includes('ClusterRoleBinding/rt-ringtrain-operator-kueue'));
  });

  it('with operator.podGroups.enabled: an operator started with --pod-group-scheduler, granted get and create on podgroups', async () => {
    const defaults = await renderOk(defaultValues);
    assert.doesNotMatch(defaults, /--pod-group-scheduler|podgroups/);
    const manifests = await renderOk(productionValues, ['--set', 'operator.podGroups.enabled=true']);
    assert.match(manifests, /- --pod-group-scheduler=scheduler-plugins-scheduler\n/);
    assert.match(
      manifests,
      /- apiGroups: \[scheduling\.x-k8s\.io\]\n\s+resources: \[podgroups\]\n\s+verbs: \[get, create\]\n/
    );
  });

  // Each bad value must be refused by values.schema.json with a message that names the field.
  const refusals: Array<[string, string[], RegExp]> = [
    ['a string where a number belongs', ['--set-string', 'operator.replicas=two'], /\/operator\/replicas/],
    ['an unknown log level', ['--set', 'operator.logLevel=loud'], /\/operator\/logLevel/],
    ['a misspelt key', ['--set', 'operator.replica=2'], /at '\/operator': additional properties 'replica' not allowed/],
    [
      'a dataset URI that is not s3:// or file://',
      ['--set', 'datasetService.datasets={http://example.com/data}'],
      /\/datasetService\/datasets\/0/
    ],
    ['minio disabled without an S3 endpoint', ['--set', 'minio.enabled=false'], /\/s3\/endpoint/],
    ['a GPU resource name without a domain', ['--set', 'gpu.resourceName=gpu'], /\/gpu\/resourceName/],
    ['a GPU resource name with a space', ['--set', 'gpu.resourceName=amd.com/my gpu'], /\/gpu\/resourceName/]
  ];
  for (const [what, args, field] of refusals) {
    it(`refuses ${what}, naming the field`, async () => {
      const result = await helmTemplate(defaultValues, args);
      assert.notEqual(result.code, 0, `accepted: ${args.join(' ')}`);
      assert.match(result.stderr, /values don't meet the specifications of the schema/);
      assert.match(result.stderr, field);
    });
  }

  it('names the MinIO Service and Secret keys that deploy/examples expect of release `ringtrain` in ringtrain-system', async () => {
    const result = await run(helmBinary(), ['template', 'ringtrain', chartDir, '--namespace', 'ringtrain-system']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      /kind: Service\nmetadata:\n  name: ringtrain-minio\n  namespace: ringtrain-system\n[\s\S]*?port: 9000\n/
    );
    assert.match(result.stdout, /AWS_ACCESS_KEY_ID: "[^"]+"\n  AWS_SECRET_ACCESS_KEY: "[^"]+"/);
    const examples = (await readdir(path.join(repoRoot, 'deploy', 'examples'))).filter((f) => f.endsWith('.yaml'));
    for (const example of examples) {
      const text = await readFile(path.join(repoRoot, 'deploy', 'examples', example), 'utf8');
      const endpoint = /endpoint: (\S+)/.exec(text)?.[1];
      if (endpoint)
        assert.equal(endpoint, 'http://ringtrain-minio.ringtrain-system:9000', `deploy/examples/${example}`);
    }
  });

  it("points the operator at the chart's dataset service, so every run's workers take their epoch plans from it", async () => {
    const withService = await renderOk(defaultValues);
    assert.match(withService, /- --dataset-service=rt-ringtrain-dataset-service\.ringtrain-system:7070\n/);
    const without = await renderOk(defaultValues, ['--set', 'datasetService.enabled=false']);
    assert.doesNotMatch(without, /--dataset-service/);
  });

  it('passes gpu.resourceName to the operator as the GPU of runs that name none (--default-gpu-resource)', async () => {
    assert.match(await renderOk(defaultValues), /- --default-gpu-resource=nvidia\.com\/gpu\n/);
    const amd = await renderOk(defaultValues, ['--set', 'gpu.resourceName=amd.com/gpu']);
    assert.match(amd, /- --default-gpu-resource=amd\.com\/gpu\n/);
  });

  it('checks gpu.resourceName with the pattern the CRD checks spec.workers.gpu.resourceName with', async () => {
    const schema = JSON.parse(await readFile(path.join(chartDir, 'values.schema.json'), 'utf8')) as {
      properties: { gpu: { properties: { resourceName: { pattern: string } } } };
    };
    assert.equal(
      schema.properties.gpu.properties.resourceName.pattern,
      EXTENDED_RESOURCE_NAME.source.replaceAll('\\/', '/')
    );
  });

  it('ships the CRD that packages/operator generates (helm/ringtrain/crds equals deploy/crds)', async () => {
    const generated = path.join(repoRoot, 'deploy', 'crds');
    const shipped = path.join(chartDir, 'crds');
    const files = (await readdir(generated)).filter((f) => f.endsWith('.yaml')).sort();
    assert.deepEqual((await readdir(shipped)).sort(), files, 'the chart ships exactly the generated CRDs');
    for (const file of files) {
      const [want, got] = await Promise.all([
        readFile(path.join(generated, file), 'utf8'),
        readFile(path.join(shipped, file), 'utf8')
      ]);
      assert.ok(
        got === want,
        `helm/ringtrain/crds/${file} differs from deploy/crds/${file}: cp deploy/crds/${file} helm/ringtrain/crds/`
      );
    }
  });
});
