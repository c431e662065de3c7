import type { V1Lease } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { microTime, statusCodeOf, type KubeApi } from './kube-api.js';

export interface LeaderElectionOptions {
  readonly api: KubeApi;
  readonly namespace: string;
  readonly name: string;
  /** Unique per process: the pod name plus a random suffix. */
  readonly identity: string;
  readonly leaseDurationSeconds?: number;
  readonly renewDeadlineSeconds?: number;
  readonly retryPeriodSeconds?: number;
  readonly logger: Logger;
}

/**
 * client-go's Lease lock: whoever holds a coordination.k8s.io Lease whose renewTime is younger than
 * leaseDurationSeconds leads; the leader renews every retryPeriod and gives up if it could not renew for
 * renewDeadline (so it stops acting before another may take over: renewDeadline < leaseDuration).
 * Writes carry the resourceVersion read, so two candidates cannot both win one expiry.
 */
export class LeaderElector {
  private leading = false;
  private stopped = false;
  private lastRenew = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly duration: number;
  private readonly renewDeadline: number;
  private readonly retryPeriod: number;

  constructor(private readonly options: LeaderElectionOptions) {
    this.duration = options.leaseDurationSeconds ?? 15;
    this.renewDeadline = options.renewDeadlineSeconds ?? 10;
    this.retryPeriod = options.retryPeriodSeconds ?? 2;
    if (this.renewDeadline >= this.duration)
      throw new Error(
        `leader election: renewDeadlineSeconds (${this.renewDeadline}) must be less than leaseDurationSeconds (${this.duration})`
      );
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Campaigns until stopped; calls onStarted on winning and onStopped on losing the lease. */
  run(onStarted: () => void, onStopped: () => void): void {
    const tick = async () => {
      if (this.stopped) return;
      let renewed = false;
      try {
        renewed = await this.tryAcquireOrRenew();
      } catch (error) {
        this.options.logger.warn({ err: error, lease: this.options.name }, 'leader election: lease update failed');
      }
      if (this.stopped) return;
      const now = Date.now();
      if (renewed) {
        this.lastRenew = now;
        if (!this.leading) {
          this.leading = true;
          this.options.logger.info({ identity: this.options.identity, lease: this.options.name }, 'became leader');
          onStarted();
        }
      } else if (this.leading && now - this.lastRenew > this.renewDeadline * 1000) {
        this.leading = false;
        this.options.logger.error(
          { identity: this.options.identity, lease: this.options.name },
          'lost leadership: could not renew the lease within renewDeadlineSeconds'
        );
        onStopped();
      }
      this.timer = setTimeout(() => void tick(), this.retryPeriod * 1000);
    };
    void tick();
  }

  /** Stops campaigning; a leader releases the lease so a standby takes over at once, not after it expires. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await this.options.api.readLease(this.options.namespace, this.options.name);
      if (lease?.spec?.holderIdentity !== this.options.identity) return;
      await this.options.api.replaceLease({
        ...lease,
        spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(new Date()) }
      });
    } catch (error) {
      this.options.logger.warn(
        { err: error },
        'leader election: could not release the lease; a standby takes over when it expires'
      );
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { api, namespace, name, identity } = this.options;
    const now = new Date();
    const existing = await api.readLease(namespace, name);
    if (!existing) {
      const lease: V1Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name, namespace },
        spec: {
          holderIdentity: identity,
          leaseDurationSeconds: this.duration,
          acquireTime: microTime(now),
          renewTime: microTime(now),
          leaseTransitions: 0
        }
      };
      try {
        await api.createLease(lease);
        return true;
      } catch (error) {
        if (statusCodeOf(error) === 409) return false;
        throw error;
      }
    }
    const spec = existing.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const renewedAt = spec.renewTime ? new Date(spec.renewTime).getTime() : 0;
    const expired = renewedAt + (spec.leaseDurationSeconds ?? this.duration) * 1000 < now.getTime();
    if (holder && holder !== identity && !expired) return false;
    const changing = holder !== identity;
    try {
      await api.replaceLease({
        ...existing,
        spec: {
          ...spec,
          holderIdentity: identity,
          leaseDurationSeconds: this.duration,
          renewTime: microTime(now),
          ...(changing ? { acquireTime: microTime(now), leaseTransitions: (spec.leaseTransitions ?? 0) + 1 } : {})
        }
      });
      return true;
    } catch (error) {
      if (statusCodeOf(error) === 409) return false;
      throw error;
    }
  }
}
