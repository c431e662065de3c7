/**
 * Failure-detection timeouts, defined once: the CLI's flags, the coordinator's run configuration and the
 * TrainingRun's spec.runPolicy default to these, so a run behaves the same locally and in a cluster.
 */

/**
 * A worker whose heartbeats stop for this long is declared hung and its generation ends (`--heartbeat-timeout`,
 * spec.runPolicy.heartbeatTimeoutSeconds). Heartbeats go from a thread of their own, so a long training step
 * does not silence them; only a process that stops (SIGSTOP, a frozen node) or loses the network does.
 */
export const DEFAULT_HEARTBEAT_TIMEOUT_SECONDS = 60;

/**
 * A collective operation fails when a peer sends nothing for this long (run config `collectiveTimeoutMs`,
 * spec.runPolicy.collectiveTimeoutSeconds). Longer than Gloo's 30 s: ranks enter the all-reduce after a step
 * whose time varies with load and backend. It is what catches a rank whose main thread hangs while its
 * heartbeat thread still beats; raise it above the slowest step (a first GPU step compiles kernels).
 */
export const DEFAULT_COLLECTIVE_TIMEOUT_SECONDS = 120;
