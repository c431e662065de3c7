import type { Command } from 'commander';
import { reconnectDeadlineFlag } from '../../options.js';

/** `ringtrain worker`: one rank of a run (the container entry point; `ringtrain train` starts these locally). */
export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description(
      'run one training rank: register with the coordinator, train, checkpoint (token in RINGTRAIN_TOKEN; in a pod RINGTRAIN_COLLECTIVE_PORT and RINGTRAIN_ADVERTISE_HOST). With RINGTRAIN_RANKS_PER_POD=n (n > 1), run n ranks, one process each (worker ids <id>-0 … <id>-(n-1), ports RINGTRAIN_COLLECTIVE_PORT + local, one GPU each of CUDA_VISIBLE_DEVICES), failing with the first that fails'
    )
    .requiredOption('--coordinator <host:port>', "the coordinator's gRPC address")
    .requiredOption('--worker-id <id>', 'stable name of this worker slot across restarts (e.g. the pod name)')
    .option('--host <ip>', 'interface the collective endpoint listens on (0.0.0.0 in a pod)', '127.0.0.1')
    .option(reconnectDeadlineFlag.flags, reconnectDeadlineFlag.description)
    .option(
      '--compute-threads <n>',
      "TensorFlow's threads for this rank (default RINGTRAIN_COMPUTE_THREADS, else the pod's CPU quota or the cores, divided among RINGTRAIN_LOCAL_WORKERS)"
    )
    .action(async (raw: Record<string, unknown>) => {
      // A pod of several ranks (RINGTRAIN_RANKS_PER_POD, spec.workers.ranksPerPod): one process per rank.
      const { ranksPerPodOf, runLauncherCommand } = await import('./launcher.js');
      if (ranksPerPodOf(process.env) > 1) return runLauncherCommand(raw);
      const { runWorkerCommand } = await import('./run.js');
      await runWorkerCommand(raw);
    });
}
