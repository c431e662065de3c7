import { z } from 'zod';
import { ExitError, exitCodeFor, UsageError } from '../../errors.js';
import { applyReconnectDeadline, parseOptions, reconnectDeadlineSchema } from '../../options.js';

const schema = z.object({
  coordinator: z.string().regex(/^[^\s:]+:\d+$|^\[[0-9a-f:]+\]:\d+$/i, 'use host:port'),
  workerId: z.string().regex(/^[A-Za-z0-9._-]+$/, 'use letters, digits, dot, dash and underscore'),
  host: z.string().min(1),
  computeThreads: z.coerce.number().int().min(1).optional(),
  reconnectDeadline: reconnectDeadlineSchema
});

const envSchema = z.object({
  RINGTRAIN_TOKEN: z.string().min(16),
  /** Set by the operator: the collective port and the stable name peers reach this pod by. */
  RINGTRAIN_COLLECTIVE_PORT: z.coerce.number().int().min(0).max(65_535).optional(),
  RINGTRAIN_ADVERTISE_HOST: z.string().min(1).optional(),
  /**
   * How long to wait for an unreachable coordinator (default --reconnect-deadline); 0: for as long as it takes.
   * The operator sets 0 for a run whose coordinator ingests first: its deadlines, not the worker, bound that wait.
   */
  RINGTRAIN_COORDINATOR_WAIT_SECONDS: z.coerce.number().min(0).optional(),
  /** TensorFlow's intra-op threads for this rank; by default the cgroup CPU quota or the cores, shared (below). */
  RINGTRAIN_COMPUTE_THREADS: z.coerce.number().int().min(1).optional(),
  /** Set by `ringtrain train`: how many workers share this machine's cores. */
  RINGTRAIN_LOCAL_WORKERS: z.coerce.number().int().min(1).optional(),
  /** Set by the operator on a pod given GPUs: how many, and as which resource; the worker then must compute on one. */
  RINGTRAIN_EXPECTED_GPUS: z.coerce.number().int().min(0).optional(),
  RINGTRAIN_GPU_RESOURCE: z.string().min(1).optional(),
  /** 0 keeps the collective on the main thread (the default, 1, runs it on a thread of its own). */
  RINGTRAIN_COLLECTIVE_THREAD: z.enum(['0', '1']).optional(),
  /** Set by the operator: the run's TLS identity (its mounted Secret); coordinator calls and ring links use it. */
  RINGTRAIN_TLS_DIR: z.string().min(1).optional()
});

export async function runWorkerCommand(raw: Record<string, unknown>): Promise<void> {
  const options = parseOptions(schema, raw);
  const env = envSchema.safeParse(process.env);
  if (!env.success) {
    const problems = env.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`).join('\n');
    throw new UsageError(
      `invalid environment (RINGTRAIN_TOKEN must hold the run secret, at least 16 characters, that the coordinator was started with):\n${problems}`
    );
  }
  await applyReconnectDeadline(options.reconnectDeadline);
  const { runWorker, GpuUnavailableError } = await import('@ringtrain/worker');
  const { chooseComputeThreads } = await import('@ringtrain/model');
  // Set by the operator, whose token is the run's for its whole life: checkpoints are signed with a key from it.
  const { runStateKeyFromEnv } = await import('@ringtrain/proto');
  const stateKey = runStateKeyFromEnv(process.env, env.data.RINGTRAIN_TOKEN);
  const requestedThreads = options.computeThreads ?? env.data.RINGTRAIN_COMPUTE_THREADS;
  const computeThreads = chooseComputeThreads({
    ...(requestedThreads !== undefined ? { requested: requestedThreads } : {}),
    ...(env.data.RINGTRAIN_LOCAL_WORKERS !== undefined ? { localWorkers: env.data.RINGTRAIN_LOCAL_WORKERS } : {})
  });
  const stop = new AbortController();
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupts += 1;
    // The first signal stops the run cleanly after the current step; a second one means now.
    if (interrupts === 1) stop.abort(signal);
    else process.kill(process.pid, 'SIGKILL');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Started by `ringtrain train` (an IPC channel exists): when that supervisor dies, so does this worker,
  // however far it is into a retry loop.
  if (process.connected)
    process.once('disconnect', () => setTimeout(() => process.kill(process.pid, 'SIGKILL'), 3_000).unref());
  try {
    // A failed run throws RunFailedError, which the top level turns into EXIT_CODES.runFailed.
    await runWorker({
      coordinator: options.coordinator,
      token: env.data.RINGTRAIN_TOKEN,
      ...(stateKey ? { stateKey } : {}),
      workerId: options.workerId,
      host: options.host,
      stop: stop.signal,
      computeThreads,
      ...(env.data.RINGTRAIN_COLLECTIVE_THREAD !== undefined
        ? { collectiveThread: env.data.RINGTRAIN_COLLECTIVE_THREAD === '1' }
        : {}),
      ...(env.data.RINGTRAIN_EXPECTED_GPUS !== undefined
        ? {
            expectedGpus: {
              count: env.data.RINGTRAIN_EXPECTED_GPUS,
              ...(env.data.RINGTRAIN_GPU_RESOURCE !== undefined ? { resource: env.data.RINGTRAIN_GPU_RESOURCE } : {})
            }
          }
        : {}),
      ...(env.data.RINGTRAIN_COLLECTIVE_PORT !== undefined ? { port: env.data.RINGTRAIN_COLLECTIVE_PORT } : {}),
      ...(env.data.RINGTRAIN_TLS_DIR !== undefined ? { tlsDir: env.data.RINGTRAIN_TLS_DIR } : {}),
      ...(env.data.RINGTRAIN_ADVERTISE_HOST !== undefined ? { advertiseHost: env.data.RINGTRAIN_ADVERTISE_HOST } : {}),
      coordinatorWaitMs:
        env.data.RINGTRAIN_COORDINATOR_WAIT_SECONDS === undefined
          ? options.reconnectDeadline * 1000
          : env.data.RINGTRAIN_COORDINATOR_WAIT_SECONDS === 0
            ? Infinity
            : env.data.RINGTRAIN_COORDINATOR_WAIT_SECONDS * 1000
    });
  } catch (error) {
    // EXIT_CODES.noGpu (69), permanent: the same node and image would fail the same way again.
    if (error instanceof GpuUnavailableError) throw new ExitError(exitCodeFor(error), error.message);
    throw error;
  } finally {
    // The handlers stay: a SIGTERM while the finished process closes its sockets and threads (a pod deleted as
    // its run ends) must not turn a clean exit into death by signal (143).
    if (process.connected) process.disconnect();
  }
}
