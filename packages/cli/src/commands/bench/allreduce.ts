import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MAX_STRIPES, type TlsFiles } from '@ringtrain/collective';
import { Command } from 'commander';
import { z } from 'zod';
import { parseOptions } from '../../options.js';
import { TSX_EXEC_ARGV } from '../../tsx-loader.js';
import { addLinkFlags, linkFlagsSchema, shapedLink } from './link-flags.js';

const MiB = 1024 * 1024;

const schema = z.object({
  workers: z.coerce.number().int().min(1).max(64),
  mib: z.coerce.number().positive().max(4096),
  wire: z.enum(['f32', 'f16', 'bf16']),
  iters: z.coerce.number().int().min(1),
  warmup: z.coerce.number().int().min(0),
  chunkMib: z.coerce.number().positive().max(16),
  json: z.boolean().optional(),
  thread: z.boolean().optional(),
  tls: z.boolean().optional(),
  stripes: z.coerce.number().int().min(1).max(MAX_STRIPES),
  ...linkFlagsSchema
});

/** A throwaway run identity, issued as the operator issues a run's, in a temporary directory. */
async function benchIdentity(): Promise<{ files: TlsFiles; remove(): Promise<void> }> {
  const { RunIdentityIssuer } = await import('@ringtrain/operator');
  const { RUN_IDENTITY_FILES, RUN_IDENTITY_SERVER_NAME } = await import('@ringtrain/proto');
  const tls = await RunIdentityIssuer.ephemeral().tls({
    metadata: { name: 'bench', uid: randomUUID(), creationTimestamp: new Date() }
  });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-bench-tls-'));
  const write = async (file: string, pem: string) => {
    await writeFile(path.join(dir, file), pem, { mode: 0o600 });
    return path.join(dir, file);
  };
  return {
    files: {
      caFile: await write(RUN_IDENTITY_FILES.ca, tls.ca),
      certFile: await write(RUN_IDENTITY_FILES.certificate, tls.certificate),
      keyFile: await write(RUN_IDENTITY_FILES.privateKey, tls.privateKey),
      serverName: RUN_IDENTITY_SERVER_NAME
    },
    remove: () => rm(dir, { recursive: true, force: true })
  };
}

/**
 * `ringtrain bench allreduce`: N local rank processes on 127.0.0.1 all-reduce an f32 buffer; the slowest
 * rank's time per iteration gives nccl-tests' algbw and busbw. With --link-gbit the ranks run in network
 * namespaces behind shaped links instead (see @ringtrain/collective's ShapedNetwork).
 */
export function allReduceBenchCommand(): Command {
  const command = new Command('allreduce')
    .description(
      'ring all-reduce bandwidth between local processes, over loopback or (--link-gbit) shaped links; --json prints {workers, bytes, wire, iters, link, thread, tls, stripes, medianMs, algbwGBs, busbwGBs}'
    )
    .option('--workers <n>', 'rank processes', '2')
    .option('--mib <m>', 'f32 payload in MiB (ResNet18 gradients: 44.6)', '44.6')
    .option('--wire <format>', 'f32, f16 or bf16 on the wire', 'f32')
    .option('--iters <k>', 'timed iterations', '20')
    .option('--warmup <k>', 'untimed iterations first', '3')
    .option('--chunk-mib <m>', 'frame payload size in MiB', '4')
    .option('--thread', "each rank's collective on a worker thread of its own (ThreadedProcessGroup)")
    .option(
      '--stripes <k>',
      `links per ring edge, each its own HTTP/2 connection on its own thread (1–${MAX_STRIPES}; above 1 implies --thread)`,
      '1'
    )
    .option(
      '--tls',
      "mutual TLS on every link, with a run identity as the operator issues one (Ed25519, the run's own CA)"
    )
    .option('--json', 'print one JSON object on stdout');
  return addLinkFlags(command).action(async (raw: Record<string, unknown>) => {
    const options = parseOptions(schema, raw);
    const link = shapedLink(options);
    const { benchmarkAllReduce } = await import('@ringtrain/collective');
    const identity = options.tls ? await benchIdentity() : undefined;
    const result = await benchmarkAllReduce({
      ...(identity !== undefined ? { tls: identity.files } : {}),
      workers: options.workers,
      mib: options.mib,
      wire: options.wire,
      iters: options.iters,
      warmup: options.warmup,
      chunkBytes: Math.round((options.chunkMib * MiB) / 4) * 4,
      execArgv: TSX_EXEC_ARGV,
      thread: options.thread === true,
      stripes: options.stripes,
      ...(link !== undefined ? { link } : {})
    }).finally(() => identity?.remove());
    if (options.json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      return;
    }
    const linkText =
      result.link === null
        ? 'loopback'
        : `${result.link.gbit} Gbit/s links${result.link.latencyMs > 0 ? `, ${result.link.latencyMs} ms` : ''}`;
    process.stdout.write(
      `all-reduce of ${(result.bytes / MiB).toFixed(1)} MiB over ${result.workers} processes (${result.wire} wire, ${linkText}${result.thread ? ', threaded' : ''}${result.stripes > 1 ? `, ${result.stripes} stripes` : ''}${result.tls ? ', TLS' : ''}): ` +
        `median ${result.medianMs.toFixed(1)} ms, algbw ${result.algbwGBs.toFixed(3)} GB/s, busbw ${result.busbwGBs.toFixed(3)} GB/s\n`
    );
  });
}
