import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Coordinator, type RunMetricsFile, type RunPlan, type RunResult } from '@ringtrain/coordinator';
import { startDatasetService } from '@ringtrain/dataset';
import { createLogger, type RunConfig } from '@ringtrain/protocol';
import { LocalCluster, type WorkerPlacement } from './local-cluster.js';
import { ProgressView } from './progress.js';

export interface LocalRunOptions {
  logDir: string;
  heartbeatTimeoutMs: number;
  maxRestarts: number;
  /** TensorFlow's threads per worker; by default the cores divided among the workers. */
  computeThreads?: number;
  previous?: Pick<RunMetricsFile, 'epochs' | 'restarts'>;
  /** The plan already printed; without it the coordinator reads the manifest to make its own. */
  plan?: RunPlan;
  /** Called with the coordinator before the workers start (benchmarks listen to its step events). */
  onCoordinator?: (coordinator: Coordinator) => void;
  /**
   * Workers in other network namespaces (`bench scaling --link-gbit`): the coordinator and the dataset service
   * listen on `hostAddress`, this process's address on their network, instead of 127.0.0.1.
   */
  network?: { hostAddress: string; placement: WorkerPlacement };
}

/**
 * One run on this machine: the dataset service and the coordinator in this process, `config.workers` worker
 * processes under the local supervisor, progress on stderr. Ctrl-C stops cleanly (a checkpoint is left); a second one kills.
 */
export async function runLocalCluster(runConfig: RunConfig, options: LocalRunOptions): Promise<RunResult> {
  const token = randomBytes(24).toString('hex');
  // The workers take their epoch plans from a dataset service, as on a cluster; its address is this session's.
  const host = options.network?.hostAddress;
  const datasetService = await startDatasetService({
    datasets: [runConfig.dataset],
    ...(host !== undefined ? { host } : {})
  });
  const config: RunConfig = { ...runConfig, datasetService: datasetService.address };
  await mkdir(options.logDir, { recursive: true });
  const logger = createLogger(
    { service: 'coordinator', runId: config.runId },
    path.join(options.logDir, 'coordinator.log')
  );
  const coordinator = await Coordinator.start({
    config,
    token,
    logger,
    heartbeatDeadlineMs: options.heartbeatTimeoutMs,
    maxRestarts: options.maxRestarts,
    ...(host !== undefined ? { host } : {}),
    ...(options.previous !== undefined ? { previous: options.previous } : {}),
    ...(options.plan !== undefined ? { plan: options.plan } : {})
  }).catch(async (error: unknown) => {
    await datasetService.stop();
    throw error;
  });
  options.onCoordinator?.(coordinator);
  const progress = new ProgressView(config.epochs, coordinator);
  progress.line(
    `ringtrain: run ${config.runId}: ${config.workers} workers, ${config.epochs} epochs, batch ${config.batchSize}/rank at ${String(config.training.imageSize)}px; logs in ${options.logDir}`
  );
  progress.line(
    `ringtrain: live dashboard at ${coordinator.httpAddress}/ (open it in a browser; status at ${coordinator.httpAddress}/status)`
  );
  const cluster = new LocalCluster({
    coordinator,
    token,
    workers: config.workers,
    logDir: options.logDir,
    maxRestartsPerWorker: options.maxRestarts + 2,
    ...(options.computeThreads !== undefined ? { computeThreads: options.computeThreads } : {}),
    ...(options.network !== undefined ? { placement: options.network.placement } : {}),
    onEvent: (line) => progress.line(line)
  });
  let interrupts = 0;
  const onInterrupt = (): void => {
    interrupts += 1;
    if (interrupts === 1) {
      progress.line(
        'ringtrain: stopping after the current step and writing a checkpoint (Ctrl-C again to abort at once)'
      );
      coordinator.requestStop('interrupted');
      cluster.signal('SIGINT');
    } else {
      cluster.signal('SIGKILL');
      coordinator.abortRun('interrupted twice: workers killed without a final checkpoint');
    }
  };
  process.on('SIGINT', onInterrupt);
  process.on('SIGTERM', onInterrupt);
  try {
    await cluster.start();
    return await coordinator.done;
  } finally {
    process.off('SIGINT', onInterrupt);
    process.off('SIGTERM', onInterrupt);
    await cluster.stop(30_000);
    // A dashboard open in a browser polls every second: let it see how the run ended before the server goes.
    if (Date.now() - coordinator.timeline.watchedAt < 5_000) await new Promise((resolve) => setTimeout(resolve, 2_000));
    await coordinator.close();
    await datasetService.stop();
    progress.done();
  }
}
