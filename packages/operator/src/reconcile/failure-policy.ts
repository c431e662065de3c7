import type { V1Pod } from '@kubernetes/client-node';
import { exitCodeClass } from '@ringtrain/proto';
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
 * | exit 75, 80–83 (outage past the deadline, peer lost,      | Error     | yes       | yes     |
 * |   timeout, known out-of-memory: @ringtrain/proto)         |           |           |         |
 * | any other exit code 1–127 (bad spec, data, weights, bug)  | Error     | no        | —       |
 * | failed with no container status (e.g. never started)      | Error     | yes       | yes     |
 * | (plan.ts) deleted/Terminating while the gang was Running  | Evicted   | yes       | no      |
 * | (plan.ts) declared hung by the coordinator's watchdog      | Hung      | yes       | yes     |
 *
 * Disruptions are the cluster's doing, not the run's, so they never use up the backoff budget (Kubernetes
 * Job's podFailurePolicy `Ignore` on DisruptionTarget). OOMKilled repeats with the same spec and memory, so
 * retrying only burns GPU hours: fail at once and say which setting to raise: the coordinator's container
 * (named by the pod templates) has its own, coordinator.resources.limits.memory. Exit codes
 * are read through the contract both sides share (`exitCodeClass`, packages/proto/src/exit-codes.ts): 128+n is
 * signal n from outside (SIGKILL, SIGTERM at a node drain), the retryable codes say the program gave up on a
 * fault outside itself (storage or coordinator unreachable past spec.runPolicy.reconnectDeadlineSeconds, a lost
 * peer, a timeout); both are worth another attempt, counted. Every other code is the program's own verdict on
 * its input (bad spec, data, weights) or a bug, which would repeat: fail at once.
 */
export function classifyPodFailure(pod: V1Pod): FailureVerdict {
  const status = pod.status;
  const disruption = status?.conditions?.find((c) => c.type === 'DisruptionTarget' && c.status === 'True');
  if (disruption) {
    const why = disruption.reason ?? '';
    const detail = disruption.message ? `: ${disruption.message}` : '';
    if (why === 'PreemptionByScheduler')
      return { reason: 'Preempted', message: `preempted by the scheduler${detail}`, retryable: true, counted: false };
    if (why === 'DeletionByTaintManager')
      return { reason: 'NodeLost', message: `its node became unavailable${detail}`, retryable: true, counted: false };
    return {
      reason: 'Evicted',
      message: `disrupted (${why || 'DisruptionTarget'})${detail}`,
      retryable: true,
      counted: false
    };
  }
  if (status?.reason === 'Evicted')
    return {
      reason: 'Evicted',
      message: `evicted: ${status.message ?? 'node pressure'}`,
      retryable: true,
      counted: false
    };
  if (status?.reason === 'NodeLost' || status?.reason === 'NodeShutdown' || status?.reason === 'Terminated') {
    return { reason: 'NodeLost', message: `its node went away (${status.reason})`, retryable: true, counted: false };
  }
  const terminated = (status?.containerStatuses ?? [])
    .map((c) => ({ name: c.name, t: c.state?.terminated }))
    .filter((c) => c.t && c.t.exitCode !== 0);
  const oom = terminated.find((c) => c.t?.reason === 'OOMKilled');
  if (oom?.t) {
    return {
      reason: 'OOMKilled',
      exitCode: oom.t.exitCode,
      message: `container ${oom.name} was OOMKilled: ${oomAdvice(oom.name)}`,
      retryable: false,
      counted: false
    };
  }
  const first = terminated[0];
  if (first?.t) {
    const code = first.t.exitCode;
    const said = first.t.message ? `: ${first.t.message.trim().slice(-512)}` : '';
    const meaning = exitCodeClass(code);
    if (meaning.signal !== undefined)
      return {
        reason: 'Signal',
        exitCode: code,
        message: `container ${first.name} killed by signal ${meaning.signal}${said}`,
        retryable: true,
        counted: true
      };
    const message = `container ${first.name} exited with code ${code} (${meaning.description})${said}`;
    return { reason: 'Error', exitCode: code, message, retryable: meaning.retryable, counted: meaning.retryable };
  }
  return {
    reason: 'Error',
    message: `pod failed without a container exit status (${status?.reason ?? 'no reason given'})`,
    retryable: true,
    counted: true
  };
}

/** The settings that give an OOMKilled container more room, by the container the pod templates named. */
function oomAdvice(container: string): string {
  if (container === 'coordinator') {
    return 'raise coordinator.resources.limits.memory (its ingest decodes as many images at once as that limit allows) or lower dataset.ingest.maxResolution';
  }
  return 'raise workers.resources.limits.memory or lower hyperparameters.batchSizePerWorker';
}
