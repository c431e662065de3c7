import type { Command } from 'commander';

/** `ringtrain ingest <source> --to <uri>`: pack an image source into shards and a manifest. */
export function registerIngestCommand(program: Command): void {
  program
    .command('ingest')
    .description('pack an ImageFolder tree or a CSV/JSONL manifest of path,label into shards and manifest.json')
    .argument(
      '<source>',
      'ImageFolder directory (one sub-folder per class) or a .csv/.jsonl file of path,label; or a store URI: s3://bucket/prefix (<prefix>/<class>/<image>), s3://bucket/raw/labels.csv'
    )
    .requiredOption('--to <uri>', 'dataset URI: s3://bucket/prefix, file:///dir or a local path')
    .option('--val-fraction <f>', 'fraction of each class held out for validation', '0.1')
    .option('--seed <n>', 'seed of the split and of the shard order', '0')
    .option('--shard-size <size>', 'target shard size (e.g. 64MiB, 512KiB, 1000000)', '64MiB')
    .option('--max-resolution <px>', 'downscale images whose longer side exceeds this (stored as JPEG q90)')
    .option('--concurrency <n>', 'images decoded at once (default: 2 per core)')
    .option('--create-bucket', 'create the s3:// bucket if it does not exist')
    .option('--json', 'print the summary as one JSON object on stdout')
    .action(async (source: string, raw: Record<string, unknown>) => {
      const { runIngest } = await import('./run.js');
      await runIngest(source, raw);
    });
}
