import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * One JSON logger per process with the run's identity as base fields, level from RINGTRAIN_LOG_LEVEL, secrets
 * redacted. `destination` is a file descriptor or path (the local cluster keeps logs out of the progress view).
 */
export function createLogger(
  base: { service: string; runId?: string; rank?: number; workerId?: string },
  destination: number | string = 2
): Logger {
  return pino(
    {
      base: { ...base, pid: process.pid },
      level: process.env.RINGTRAIN_LOG_LEVEL ?? 'info',
      redact: ['token', 'collectiveToken', '*.token', '*.collectiveToken', 'config.token'],
      timestamp: pino.stdTimeFunctions.isoTime
    },
    pino.destination({ dest: destination, sync: true, mkdir: true })
  );
}
