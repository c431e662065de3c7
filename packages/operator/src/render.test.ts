import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { InvalidTrainingRunError } from './api/validate.js';
import { RENDERED_TOKEN, renderTrainingRuns, renderYaml } from './render.js';

const examples = new URL('../../../deploy/examples/', import.meta.url);

describe('operator render', () => {
  it("prints what the first reconcile of each example creates, in the API server's field names", () => {
    for (const file of readdirSync(examples).filter((name) => name.endsWith('.yaml'))) {
      const manifest = readFileSync(new URL(file, examples), 'utf8');
      const objects = renderTrainingRuns(manifest, { cluster: { networkPolicies: true } });
      const kinds = objects.map((object) => object.kind);
      assert.ok(kinds.includes('Pod') && kinds.includes('Service') && kinds.includes('ConfigMap'), `${file}: ${kinds}`);
      assert.ok(kinds.includes('NetworkPolicy'), `${file}: the run's NetworkPolicy`);
      const yaml = renderYaml(objects);
      assert.doesNotMatch(yaml, /_from:/, `${file}: client-node's model names are serialized`);
      assert.match(yaml, /\n {4}- from:\n/);
    }
  });

  it('never holds a real token or key, and names the namespace a run without one gets', () => {
    const manifest = readFileSync(new URL('cpu-smoke.yaml', examples), 'utf8').replace(/\n {2}namespace: .*\n/, '\n');
    const objects = renderTrainingRuns(manifest, { namespace: 'team-a' });
    const secret = objects.find((object) => object.kind === 'Secret');
    const values = Object.values(secret && 'stringData' in secret ? (secret.stringData ?? {}) : {});
    assert.equal(values.length, 4, 'the token, the CA, the certificate and its key');
    for (const value of values) assert.equal(value, RENDERED_TOKEN);
    for (const object of objects) assert.equal(object.metadata?.namespace, 'team-a');
  });

  it('with the cluster’s store, shows the storage credentials Secret the operator mints, mounted by the pods', () => {
    const manifest = readFileSync(new URL('cpu-smoke.yaml', examples), 'utf8');
    const withoutStore = renderTrainingRuns(manifest);
    assert.ok(!withoutStore.some((object) => object.metadata?.name === 'cpu-smoke-storage'));
    const objects = renderTrainingRuns(manifest, {
      store: { endpoint: 'http://ringtrain-minio.ringtrain-system.svc.cluster.local:9000' }
    });
    const secret = objects.find((object) => object.metadata?.name === 'cpu-smoke-storage');
    assert.ok(secret && 'stringData' in secret);
    for (const value of Object.values(secret.stringData ?? {})) assert.equal(value, RENDERED_TOKEN);
    for (const pod of objects.filter((object) => object.kind === 'Pod')) {
      const volumes = 'spec' in pod && pod.spec && 'volumes' in pod.spec ? (pod.spec.volumes ?? []) : [];
      assert.ok(
        volumes.some((volume) => volume.secret?.secretName === 'cpu-smoke-storage'),
        `${pod.metadata?.name} mounts the run's storage credentials`
      );
    }
  });

  it('leaves other kinds out, and refuses a run the API server would refuse, naming the field', () => {
    assert.deepEqual(renderTrainingRuns('kind: ConfigMap\napiVersion: v1\nmetadata: {name: x}\n'), []);
    assert.throws(
      () =>
        renderTrainingRuns(
          'apiVersion: ringtrain.dev/v1alpha1\nkind: TrainingRun\nmetadata: {name: bad}\nspec:\n  hyperparameters: {learningRate: -1}\n'
        ),
      (error: unknown) =>
        error instanceof InvalidTrainingRunError &&
        /spec\.hyperparameters\.learningRate/.test(error.message) &&
        /spec\.dataset/.test(error.message)
    );
  });
});
