import { DEFAULT_HEARTBEAT_TIMEOUT_SECONDS, DEFAULT_RECONNECT_DEADLINE_SECONDS } from '@ringtrain/proto';
import { z } from 'zod';
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

/**
 * `--reconnect-deadline <seconds>`: how long a process waits for unreachable object storage or coordinator
 * before it exits retryably (75, 80). The operator passes spec.runPolicy.reconnectDeadlineSeconds; both default
 * to DEFAULT_RECONNECT_DEADLINE_SECONDS.
 */
export const reconnectDeadlineFlag = {
  flags: '--reconnect-deadline <seconds>',
  description: `how long to wait for unreachable object storage or coordinator before exiting retryably (default ${DEFAULT_RECONNECT_DEADLINE_SECONDS})`
} as const;

export const reconnectDeadlineSchema = z.coerce
  .number()
  .int()
  .min(1)
  .max(86_400)
  .default(DEFAULT_RECONNECT_DEADLINE_SECONDS);

/**
 * `--heartbeat-timeout <seconds>`: a worker whose heartbeats stop this long is declared hung. The operator
 * passes spec.runPolicy.heartbeatTimeoutSeconds; both default to DEFAULT_HEARTBEAT_TIMEOUT_SECONDS.
 */
export const heartbeatTimeoutFlag = {
  flags: '--heartbeat-timeout <seconds>',
  description: `a worker whose heartbeats stop this long is declared hung (default ${DEFAULT_HEARTBEAT_TIMEOUT_SECONDS})`
} as const;

export const heartbeatTimeoutSchema = z.coerce
  .number()
  .positive()
  .max(86_400)
  .default(DEFAULT_HEARTBEAT_TIMEOUT_SECONDS);

/** Makes every object store this process opens wait `seconds` for an outage to pass. */
export async function applyReconnectDeadline(seconds: number): Promise<void> {
  const { configureRetryDefaults } = await import('@ringtrain/dataset');
  configureRetryDefaults({ deadlineMs: seconds * 1000 });
}
