import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { HyperparametersSchema } from '@ringtrain/proto';
import { CRD_PATH, crdYaml, generateCrd, trainingRunOpenApiSchema, type JsonSchema } from './crd.js';
import { CROSS_FIELD_RULES } from './validation-rules.js';

function walk(node: JsonSchema, path: string, visit: (node: JsonSchema, path: string) => void): void {
  visit(node, path);
  const properties = node.properties as Record<string, JsonSchema> | undefined;
  for (const [key, child] of Object.entries(properties ?? {})) walk(child, `${path}.${key}`, visit);
  if (typeof node.items === 'object') walk(node.items as JsonSchema, `${path}[]`, visit);
  if (typeof node.additionalProperties === 'object') walk(node.additionalProperties as JsonSchema, `${path}{}`, visit);
}

describe('the generated CRD', () => {
  it(`is what is committed in ${CRD_PATH} (regenerate with npm run generate-crd -w @ringtrain/operator)`, () => {
    const committed = readFileSync(new URL(`../../../../${CRD_PATH}`, import.meta.url), 'utf8');
    assert.equal(committed, crdYaml());
  });

  it('is structural: every node has a type, and no node has both properties and additionalProperties', () => {
    walk(trainingRunOpenApiSchema(), '', (node, path) => {
      const intOrString = node['x-kubernetes-int-or-string'] === true;
      assert.ok(intOrString || typeof node.type === 'string', `${path || 'root'} has no type`);
      assert.ok(
        !(node.properties && node.additionalProperties !== undefined),
        `${path} has properties and additionalProperties`
      );
      if (intOrString) assert.deepEqual(node.anyOf, [{ type: 'integer' }, { type: 'string' }], path);
    });
  });

  it('bounds every string and list, so the API server can estimate the cost of CEL rules', () => {
    const spec = (trainingRunOpenApiSchema().properties as Record<string, JsonSchema>).spec as JsonSchema;
    walk(spec, 'spec', (node, path) => {
      if (node.type === 'string' && node.enum === undefined && node.format === undefined)
        assert.equal(typeof node.maxLength, 'number', `${path} has no maxLength`);
      if (node.type === 'array') assert.equal(typeof node.maxItems, 'number', `${path} has no maxItems`);
    });
  });

  it('fits in the last-applied-configuration annotation of a client-side kubectl apply (256 KiB of annotations)', () => {
    // Far below etcd's 1.5 MiB object limit too; the pod template fields (affinity above all) are most of it.
    assert.ok(JSON.stringify(generateCrd()).length < 128 * 1024, 'the CRD as JSON is under half the annotation limit');
  });

  it('carries every cross-field rule as x-kubernetes-validations where the rule is placed', () => {
    const yaml = crdYaml();
    for (const rule of CROSS_FIELD_RULES) assert.ok(yaml.includes(rule.message), `missing: ${rule.message}`);
  });

  it('spells out object defaults (the API server checks a default against CEL rules before nested defaulting)', () => {
    walk(trainingRunOpenApiSchema(), '', (node, path) => {
      if (node.type === 'object' && node.default !== undefined)
        assert.notDeepEqual(node.default, {}, `${path} defaults to {}`);
    });
  });

  it('defaults to one GPU per worker and leaves its resource name to the cluster (the operator’s --default-gpu-resource)', () => {
    const yaml = crdYaml();
    assert.doesNotMatch(yaml, /nvidia\.com\/gpu\n/, 'no resource name is defaulted in the schema');
    assert.match(yaml, /resourceName:\n(\s+)description: [^\n]*\n\1type: string\n\1maxLength: 317\n\1pattern: /);
    assert.match(yaml, /count:\n\s+default: 1/);
  });

  it("shows the course's recipe as spec.hyperparameters' defaults (kubectl explain), the same ones ringtrain train uses", () => {
    const child = (node: JsonSchema, key: string): JsonSchema => (node.properties as Record<string, JsonSchema>)[key]!;
    const hyperparameters = child(child(trainingRunOpenApiSchema(), 'spec'), 'hyperparameters');
    assert.deepEqual(hyperparameters.default, HyperparametersSchema.parse({}));
    const fields = hyperparameters.properties as Record<string, JsonSchema>;
    assert.equal(fields.optimizer!.default, 'adam');
    assert.equal(fields.learningRate!.default, 0.001);
    assert.equal(fields.schedule!.default, 'constant');
    for (const [name, field] of Object.entries(fields)) assert.ok(field.description, `${name} has a description`);
  });
});
