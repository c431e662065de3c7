import type { V1Pod } from '@kubernetes/client-node';
import type { FAILURE_REASONS } from '../api/status-schema.js';

export type FailureReason = (typeof FAILURE_REASONS)[number];

export interface FailureVerdict {
  readonly reason: FailureReason;
  readonly exitCode?: number;
  readonly message: string;
  /** A gang restart may fix it. */
  readonly retryable: boolean;
  /** It uses up one of runPolicy.backoffLimit's restarts. */
  readonly counted: boolean;
}

/**
 * Why a failed pod failed, and what the run does about it. The table (docs/operator.md repeats it):
 *
 * | what the pod shows                                        | reason    | retryable | counted |
 * | --------------------------------------------------------- | --------- | --------- | ------- |
 * | DisruptionTarget: PreemptionByScheduler                   | Preempted | yes       | no      |
 * | DisruptionTarget: DeletionByTaintManager, or reason       |           |           |         |
 * |   NodeLost / NodeShutdown / Terminated (node went away)   | NodeLost  | yes       | no      |
 * | status.reason Evicted, or DisruptionTarget otherwise      | Evicted   | yes       | no      |
 * | a container terminated OOMKilled                          | OOMKilled | no        | —       |
 * | a container exit code 128–255 (killed by a signal)        | Signal    | yes       | yes     |
 * | a container exit code 1–127 (the program said it failed)  | Error     | no        | —       |
 * | failed with no container status (e.g. never started)      | Error     | yes       | yes     |
 * | (plan.ts) deleted/Terminating while the gang was Running  | Evicted   | yes       | no      |
 *
 * Disruptions are the cluster's doing, not the run's, so they never use up the backoff budget (Kubernetes
 * Job's podFailurePolicy `Ignore` on DisruptionTarget). OOMKilled repeats with the same spec and memory, so
 * retrying only burns GPU hours: fail at once and say to raise workers.resources.limits.memory. Exit codes
 * follow Kubeflow's convention: 1–127 are the program's own verdict (bad data, bad config), 128+n is
 * signal n from outside (SIGKILL, SIGTERM at a node drain) and worth another attempt.
 */
export function classifyPodFailure(pod: V1Pod): FailureVerdict {
  const status = pod.status;
  const disruption = status?.conditions?.find((c) => c.type === 'DisruptionTarget' && c.status === 'True');
  if (disruption) {
    const why = disruption.reason ?? '';
    const detail = disruption.message ? `: ${disruption.message}` : '';
    if (why === 'PreemptionByScheduler') return { reason: 'Preempted', message: `preempted by the scheduler${detail}`, retryable: true, counted: false };
    if (why === 'DeletionByTaintManager') return { reason: 'NodeLost', message: `its node became unavailable${detail}`, retryable: true, counted: false };
    return { reason: 'Evicted', message: `disrupted (${why || 'DisruptionTarget'})${detail}`, retryable: true, counted: false };
  }
  if (status?.reason === 'Evicted') return { reason: 'Evicted', message: `evicted: ${status.message ?? 'node pressure'}`, retryable: true, counted: false };
  if (status?.reason === 'NodeLost' || status?.reason === 'NodeShutdown' || status?.reason === 'Terminated') {
    return { reason: 'NodeLost', message: `its node went away (${status.reason})`, retryable: true, counted: false };
  }
  const terminated = (status?.containerStatuses ?? []).map((c) => ({ name: c.name, t: c.state?.terminated })).filter((c) => c.t && c.t.exitCode !== 0);
  const oom = terminated.find((c) => c.t?.reason === 'OOMKilled');
  if (oom?.t) {
    return {
      reason: 'OOMKilled',
      exitCode: oom.t.exitCode,
      message: `container ${oom.name} was OOMKilled: raise workers.resources.limits.memory or lower hyperparameters.batchSizePerWorker`,
      retryable: false,
      counted: false,
    };
  }
  const first = terminated[0];
  if (first?.t) {
    const code = first.t.exitCode;
    const said = first.t.message ? `: ${first.t.message.trim().slice(-512)}` : '';
    if (code >= 128) return { reason: 'Signal', exitCode: code, message: `container ${first.name} killed by signal ${code - 128}${said}`, retryable: true, counted: true };
    return { reason: 'Error', exitCode: code, message: `container ${first.name} exited with code ${code}${said}`, retryable: false, counted: false };
  }
  return { reason: 'Error', message: `pod failed without a container exit status (${status?.reason ?? 'no reason given'})`, retryable: true, counted: true };
}
