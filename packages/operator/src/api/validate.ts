import { TrainingRunSchema, type TrainingRun } from './training-run.js';
import { CROSS_FIELD_RULES } from './validation-rules.js';

/** One problem with a TrainingRun, named by its field path as the API server names it (`spec.workers.replicas`). */
/** A TrainingRun the API server would refuse, each bad field named (the CLI exits 78, configuration, by this name). */
export class InvalidTrainingRunError extends Error {
  override readonly name = 'InvalidTrainingRunError';
}

export interface FieldError {
  readonly path: string;
  readonly message: string;
}

export type Validated =
  { readonly ok: true; readonly run: TrainingRun } | { readonly ok: false; readonly errors: readonly FieldError[] };

function joinPath(segments: readonly PropertyKey[]): string {
  return segments.reduce<string>(
    (acc, s) => (typeof s === 'number' ? `${acc}[${s}]` : acc ? `${acc}.${String(s)}` : String(s)),
    ''
  );
}

/**
 * Validates a TrainingRun as the API server would with the generated CRD: field schemas first, then the
 * cross-field rules. Pure; every error names its field. Pass `old` (the stored object) on update to check
 * the immutability rules too.
 */
export function validateTrainingRun(input: unknown, old?: TrainingRun): Validated {
  const parsed = TrainingRunSchema.safeParse(input);
  if (!parsed.success) {
    return {
      ok: false,
      errors: parsed.error.issues.map((issue) => ({ path: joinPath(issue.path), message: issue.message }))
    };
  }
  const run = parsed.data;
  const errors: FieldError[] = [];
  for (const rule of CROSS_FIELD_RULES) {
    if (rule.transition && old === undefined) continue;
    if (rule.holds(run, old)) continue;
    const path = (rule.at.join('.') + (rule.fieldPath ?? '')).replace(/^\./, '');
    errors.push({ path: path || 'metadata.name', message: rule.message });
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, run };
}

/** Parses a TrainingRun or throws one error listing every field that is wrong. */
export function parseTrainingRun(input: unknown, old?: TrainingRun): TrainingRun {
  const result = validateTrainingRun(input, old);
  if (result.ok) return result.run;
  const name = (input as { metadata?: { name?: unknown } } | null)?.metadata?.name;
  const lines = result.errors.map((e) => `  ${e.path}: ${e.message}`);
  throw new InvalidTrainingRunError(
    `invalid TrainingRun ${typeof name === 'string' ? name : '(unnamed)'}:\n${lines.join('\n')}`
  );
}
