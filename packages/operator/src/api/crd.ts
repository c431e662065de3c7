import { z } from 'zod';
import { stringify } from 'yaml';
import { API_VERSION, CRD_NAME, GROUP, KIND, PLURAL, SHORT_NAMES, SINGULAR, VERSION } from './group-version.js';
import { TrainingRunSpecSchema } from './spec-schema.js';
import { TrainingRunStatusSchema } from './status-schema.js';
import { CROSS_FIELD_RULES } from './validation-rules.js';

/** An OpenAPI v3 schema node as the CRD carries it; open-ended because Kubernetes adds `x-kubernetes-*` keys. */
export type JsonSchema = { [key: string]: unknown };

/** Where the generated CRD lives, relative to the repository root. */
export const CRD_PATH = 'deploy/crds/ringtrain.dev_trainingruns.yaml';

function isSchema(value: unknown): value is JsonSchema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Rewrites zod's OpenAPI 3.0 output into a Kubernetes structural schema: the API server rejects
 * `additionalProperties: false` beside `properties`, wants int-or-string spelled its own way, and has no use
 * for zod's ±2^53 integer bounds (they only bloat `kubectl explain`).
 */
function toStructural(node: JsonSchema): JsonSchema {
  if (node['x-kubernetes-int-or-string'] === true) {
    const out: JsonSchema = { 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }] };
    if (node.description !== undefined) out.description = node.description;
    return out;
  }
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === '$schema' || key === 'propertyNames') continue;
    if (key === 'additionalProperties' && value === false) continue;
    if (key === 'minimum' && value === -Number.MAX_SAFE_INTEGER) continue;
    if (key === 'maximum' && value === Number.MAX_SAFE_INTEGER) continue;
    if (key === 'properties' && isSchema(value)) {
      out.properties = Object.fromEntries(
        Object.entries(value).map(([k, v]) => [k, isSchema(v) ? toStructural(v) : v])
      );
    } else if ((key === 'items' || key === 'additionalProperties') && isSchema(value)) {
      out[key] = toStructural(value);
    } else {
      out[key] = value;
    }
  }
  return out;
}

function schemaOf(schema: z.ZodType): JsonSchema {
  // io 'input': a field with a default is optional for the user; the API server fills it in.
  return toStructural(z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input' }) as JsonSchema);
}

function nodeAt(root: JsonSchema, path: readonly string[]): JsonSchema {
  let node = root;
  for (const segment of path) {
    const properties = node.properties;
    const next = isSchema(properties) ? properties[segment] : undefined;
    if (!isSchema(next))
      throw new Error(`CEL rule placed at ${path.join('.')}, but the schema has no ${segment} there`);
    node = next;
  }
  return node;
}

/** The openAPIV3Schema of a TrainingRun: spec and status from the zod schemas, plus every CEL rule. */
export function trainingRunOpenApiSchema(): JsonSchema {
  const root: JsonSchema = {
    type: 'object',
    description: 'A TrainingRun fine-tunes an image classifier with synchronous data-parallel workers.',
    required: ['spec'],
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object' },
      spec: schemaOf(TrainingRunSpecSchema),
      status: schemaOf(TrainingRunStatusSchema)
    }
  };
  for (const rule of CROSS_FIELD_RULES) {
    const node = nodeAt(root, rule.at);
    const entry: JsonSchema = { rule: rule.cel, message: rule.message };
    if (rule.fieldPath) entry.fieldPath = rule.fieldPath;
    const list = Array.isArray(node['x-kubernetes-validations']) ? (node['x-kubernetes-validations'] as unknown[]) : [];
    node['x-kubernetes-validations'] = [...list, entry];
  }
  return root;
}

/** The CustomResourceDefinition object for `trainingruns.ringtrain.dev`. */
export function generateCrd(): JsonSchema {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: CRD_NAME, labels: { 'app.kubernetes.io/part-of': 'ringtrain' } },
    spec: {
      group: GROUP,
      names: {
        kind: KIND,
        listKind: `${KIND}List`,
        plural: PLURAL,
        singular: SINGULAR,
        shortNames: [...SHORT_NAMES],
        categories: ['ringtrain']
      },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
            { name: 'Workers', type: 'string', jsonPath: '.status.workers', description: 'ready/desired worker pods' },
            {
              name: 'Ranks',
              type: 'integer',
              jsonPath: '.status.ranks',
              description: 'ranks of the ring: worker pods × ranks per pod'
            },
            { name: 'Epoch', type: 'integer', jsonPath: '.status.epoch' },
            { name: 'Loss', type: 'number', jsonPath: '.status.loss' },
            { name: 'Accuracy', type: 'number', jsonPath: '.status.accuracy' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' }
          ],
          schema: { openAPIV3Schema: trainingRunOpenApiSchema() }
        }
      ]
    }
  };
}

/** The committed YAML text; a test checks the file in the repository equals a fresh generation. */
export function crdYaml(): string {
  const header = `# Generated from packages/operator/src/api (${API_VERSION}) by \`npm run generate-crd -w @ringtrain/operator\`. Do not edit.\n`;
  return header + stringify(generateCrd(), { lineWidth: 0, aliasDuplicateObjects: false });
}
