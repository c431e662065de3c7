import type { z } from 'zod';
import { UsageError } from './errors.js';

/**
 * Validates a command's raw flags (strings from commander) against its schema once, at the edge, and turns
 * every problem into one UsageError that names each flag and what it accepts.
 */
export function parseOptions<Schema extends z.ZodType>(schema: Schema, raw: unknown): z.output<Schema> {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const flag = issue.path.length > 0 ? `--${issue.path.map(String).map(kebabCase).join('.')}` : 'options';
    return `  ${flag}: ${issue.message}`;
  });
  throw new UsageError(`invalid options:\n${problems.join('\n')}`);
}

function kebabCase(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}
