import type { Command } from 'commander';
import { z } from 'zod';
import { UsageError } from '../../errors.js';

/**
 * `--link-gbit` and `--link-latency-ms` of the benchmarks whose ranks talk over the network (`bench allreduce`,
 * `bench scaling`): each rank runs in its own Linux network namespace behind a veth link shaped by `tc` to that
 * rate, both ways, so the network, not this machine's cores, is the limit. Needs root and iproute2.
 */
export const linkFlagsSchema = {
  linkGbit: z.coerce.number().positive().max(400).optional(),
  linkLatencyMs: z.coerce.number().min(0).max(10_000).optional()
};

export function addLinkFlags(command: Command): Command {
  return command
    .option(
      '--link-gbit <n>',
      'run each rank in its own network namespace behind a link shaped to n Gbit/s each way (tc tbf on veth; root and iproute2 needed); default: loopback, unshaped'
    )
    .option(
      '--link-latency-ms <ms>',
      "with --link-gbit: one-way delay added to every packet a rank sends (tc netem; needs the kernel's netem qdisc)"
    );
}

export type LinkFlags = { linkGbit?: number | undefined; linkLatencyMs?: number | undefined };

/** The shaped link the flags ask for, or undefined for loopback; a latency without a rate is a usage error. */
export function shapedLink(flags: LinkFlags): { gbit: number; latencyMs?: number } | undefined {
  if (flags.linkGbit === undefined) {
    if (flags.linkLatencyMs !== undefined) throw new UsageError('--link-latency-ms needs --link-gbit');
    return undefined;
  }
  return { gbit: flags.linkGbit, ...(flags.linkLatencyMs !== undefined ? { latencyMs: flags.linkLatencyMs } : {}) };
}
