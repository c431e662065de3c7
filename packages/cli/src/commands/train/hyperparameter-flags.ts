import { HyperparametersSchema, type Hyperparameters, type HyperparametersInput } from '@ringtrain/proto';
import type { Command } from 'commander';
import { z } from 'zod';
import { UsageError } from '../../errors.js';

/**
 * `ringtrain train`'s hyperparameter flags, made from the one schema a TrainingRun's spec.hyperparameters uses:
 * same names (kebab-cased), same bounds, same defaults, same descriptions, so a flag and a spec field never
 * drift apart. Two flags keep the names PyTorch scripts use.
 */
const FLAG_NAMES: Partial<Record<keyof Hyperparameters, string>> = {
  batchSizePerWorker: 'batch-size',
  learningRate: 'lr',
  // As `ringtrain bench allreduce` spells it.
  overlapAllReduce: 'overlap-allreduce'
};

interface JsonSchemaField {
  type?: string;
  enum?: readonly string[];
  description?: string;
  default?: unknown;
}

export interface HyperparameterFlag {
  key: keyof Hyperparameters;
  /** Without the leading dashes, e.g. `batch-size`. */
  flag: string;
  /** commander's attribute for the flag, e.g. `batchSize`. */
  attribute: string;
  kind: 'boolean' | 'number' | 'choice';
  /** What the flag takes in `--help`: `<n>` (an integer), `<x>` (a number), `<adam|adamw|sgd>`. */
  placeholder: string;
  description: string;
}

function kebabCase(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

function camelCase(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

function describeFlags(): HyperparameterFlag[] {
  const properties = (
    z.toJSONSchema(HyperparametersSchema, { io: 'input' }) as { properties: Record<string, JsonSchemaField> }
  ).properties;
  return Object.entries(properties).map(([key, field]) => {
    const name = key as keyof Hyperparameters;
    const flag = FLAG_NAMES[name] ?? kebabCase(key);
    const kind = field.type === 'boolean' ? 'boolean' : field.enum !== undefined ? 'choice' : 'number';
    const placeholder =
      field.enum !== undefined ? `<${field.enum.join('|')}>` : field.type === 'integer' ? '<n>' : '<x>';
    const fallback = field.default !== undefined && kind !== 'boolean' ? ` (default: ${String(field.default)})` : '';
    return {
      key: name,
      flag,
      attribute: camelCase(flag),
      kind,
      placeholder,
      description: `${field.description ?? key}${fallback}`
    };
  });
}

export const HYPERPARAMETER_FLAGS: readonly HyperparameterFlag[] = describeFlags();

/** Registers every hyperparameter as a flag of `command`. */
export function addHyperparameterOptions(command: Command): Command {
  for (const { flag, kind, placeholder, description } of HYPERPARAMETER_FLAGS) {
    command.option(kind === 'boolean' ? `--${flag}` : `--${flag} ${placeholder}`, description);
  }
  return command;
}

/** The hyperparameters a command line gives, as the schema's input (numbers as numbers), and no others. */
export function givenHyperparameters(raw: Record<string, unknown>): Partial<HyperparametersInput> {
  const given: Record<string, unknown> = {};
  for (const { key, attribute, kind } of HYPERPARAMETER_FLAGS) {
    const value = raw[attribute];
    if (value === undefined) continue;
    given[key] = kind === 'number' && typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  }
  return given as Partial<HyperparametersInput>;
}

/**
 * Validates the flags given over `defaults` (the demo's smaller run, or a resumed run's) with the schema; one
 * UsageError names each bad flag and what it accepts.
 */
export function parseHyperparameterFlags(
  raw: Record<string, unknown>,
  defaults: Partial<HyperparametersInput> = {}
): Hyperparameters {
  const result = HyperparametersSchema.safeParse({ ...defaults, ...givenHyperparameters(raw) });
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const key = issue.path[0];
    const flag = HYPERPARAMETER_FLAGS.find((candidate) => candidate.key === key)?.flag ?? String(key);
    return `  --${flag}: ${issue.message}`;
  });
  throw new UsageError(`invalid options:\n${problems.join('\n')}`);
}
