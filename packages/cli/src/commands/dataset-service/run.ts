import { z } from 'zod';
import { ExitError, exitCodeFor } from '../../errors.js';
import { parseOptions } from '../../options.js';

const schema = z.object({
  dataset: z.array(z.string().min(1)).min(1),
  host: z.string().min(1),
  port: z.coerce.number().int().min(0).max(65535)
});

export async function runDatasetService(raw: Record<string, unknown>): Promise<void> {
  const options = parseOptions(schema, raw);
  const { startDatasetService } = await import('@ringtrain/dataset');
  const service = await startDatasetService({
    datasets: options.dataset,
    host: options.host,
    port: options.port
  }).catch((error: unknown) => {
    throw new ExitError(
      exitCodeFor(error),
      `dataset-service cannot start: ${error instanceof Error ? error.message : String(error)}`
    );
  });
  process.stderr.write(`dataset-service: listening on ${service.address}, serving ${options.dataset.join(', ')}\n`);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  process.stderr.write(`dataset-service: ${signal}, draining\n`);
  await service.stop();
}
