import type { Command } from 'commander';
import { heartbeatTimeoutFlag, reconnectDeadlineFlag } from '../../options.js';

/** `ringtrain coordinator`: one run's control plane (the container entry point; `ringtrain train` embeds it). */
export function registerCoordinatorCommand(program: Command): void {
  program
    .command('coordinator')
    .description(
      'serve one run: rendezvous, generations, heartbeats, /status /healthz /metrics (token in RINGTRAIN_TOKEN)'
    )
    .requiredOption('--config <file>', 'the run configuration as JSON (the run.json that ringtrain train writes)')
    .option('--host <ip>', 'interface to listen on (0.0.0.0 in a pod)', '127.0.0.1')
    .option('--port <n>', 'gRPC port for the workers', '7070')
    .option('--http-port <n>', 'HTTP port for /status, /healthz and /metrics', '8080')
    .option(heartbeatTimeoutFlag.flags, heartbeatTimeoutFlag.description)
    .option('--max-restarts <n>', 'failed generations tolerated before the run fails', '3')
    .option(reconnectDeadlineFlag.flags, reconnectDeadlineFlag.description)
    .action(async (raw: Record<string, unknown>) => {
      const { runCoordinatorCommand } = await import('./run.js');
      await runCoordinatorCommand(raw);
    });
}
