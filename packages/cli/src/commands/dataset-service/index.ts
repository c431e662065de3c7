import type { Command } from 'commander';

/** `ringtrain dataset-service`: the gRPC server of manifests and epoch plans (one per cluster). */
export function registerDatasetServiceCommand(program: Command): void {
  program
    .command('dataset-service')
    .description('serve dataset manifests and epoch plans over gRPC until SIGTERM')
    .requiredOption(
      '--dataset <uri...>',
      'dataset URIs to serve (s3://bucket/prefix or file:///dir); others are refused'
    )
    .option('--host <host>', 'address to listen on', '0.0.0.0')
    .option('--port <port>', 'port to listen on', '7070')
    .action(async (raw: Record<string, unknown>) => {
      const { runDatasetService } = await import('./run.js');
      await runDatasetService(raw);
    });
}
