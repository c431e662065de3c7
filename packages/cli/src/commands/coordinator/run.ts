import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { EXIT_CODES } from '@ringtrain/proto';
import { z } from 'zod';
import { ExitError, exitCodeFor, UsageError } from '../../errors.js';
import {
  applyReconnectDeadline,
  heartbeatTimeoutSchema,
  parseOptions,
  reconnectDeadlineSchema
} from '../../options.js';

const port = z.coerce.number().int().min(0).max(65_535);
const schema = z.object({
  config: z.string().min(1),
  host: z.string().min(1),
  port,
  httpPort: port,
  heartbeatTimeout: heartbeatTimeoutSchema,
  maxRestarts: z.coerce.number().int().min(0),
  reconnectDeadline: reconnectDeadlineSchema
});
const envSchema = z.object({
  RINGTRAIN_TOKEN: z.string().min(16),
  /** Set by the operator: the run's TLS identity (its mounted Secret): mutual TLS for gRPC, HTTPS with the token. */
  RINGTRAIN_TLS_DIR: z.string().min(1).optional()
});
/** Where the kubelet reads a container's termination message (its default terminationMessagePath). */
const TERMINATION_MESSAGE_PATH = '/dev/termination-log';

export async function runCoordinatorCommand(raw: Record<string, unknown>): Promise<void> {
  const options = parseOptions(schema, raw);
  const env = envSchema.safeParse(process.env);
  if (!env.success)
    throw new UsageError('RINGTRAIN_TOKEN must hold the run secret (at least 16 characters) that the workers present');
  await applyReconnectDeadline(options.reconnectDeadline);
  const { Coordinator, DatasetIngestError } = await import('@ringtrain/coordinator');
  // Set by the operator, whose token is the run's for its whole life: run-record.json is signed with a key from it.
  const { runStateKeyFromEnv } = await import('@ringtrain/proto');
  const stateKey = runStateKeyFromEnv(process.env, env.data.RINGTRAIN_TOKEN);
  const { createLogger, parseRunConfig } = await import('@ringtrain/protocol');
  const { readRunIdentity } = await import('@ringtrain/proto');
  let tls;
  try {
    tls = env.data.RINGTRAIN_TLS_DIR === undefined ? undefined : readRunIdentity(env.data.RINGTRAIN_TLS_DIR);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  let config;
  try {
    config = parseRunConfig(JSON.parse(await readFile(options.config, 'utf8')) as unknown, options.config);
  } catch (error) {
    throw new UsageError(`--config ${options.config}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const coordinator = await Coordinator.start({
    config,
    token: env.data.RINGTRAIN_TOKEN,
    ...(stateKey ? { stateKey } : {}),
    logger: createLogger({ service: 'coordinator', runId: config.runId }),
    host: options.host,
    port: options.port,
    httpPort: options.httpPort,
    heartbeatDeadlineMs: options.heartbeatTimeout * 1000,
    maxRestarts: options.maxRestarts,
    ...(tls !== undefined ? { tls } : {})
  }).catch((error: unknown) => {
    // The reason as the log's last line, no stack: in a pod it becomes the termination message the operator reports.
    // An ingest that failed on an outage (a transient StoreError as its cause) exits retryably, on bad data permanently.
    if (error instanceof DatasetIngestError) throw new ExitError(exitCodeFor(error), error.message);
    throw error;
  });
  const stop = (): void => coordinator.requestStop('the coordinator received a termination signal');
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    const result = await coordinator.done;
    if (result.state === 'failed') throw new ExitError(EXIT_CODES.runFailed, `the run failed: ${result.reason}`);
    if (result.state === 'stopped') throw new ExitError(130, `the run stopped: ${result.reason}`);
    // In a pod, how the run ended (all its epochs, or early stopping) becomes the reason the operator's status gives.
    if (existsSync(TERMINATION_MESSAGE_PATH))
      await writeFile(TERMINATION_MESSAGE_PATH, result.reason).catch(() => undefined);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await coordinator.close();
  }
}
