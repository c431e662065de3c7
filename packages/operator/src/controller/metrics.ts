import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The operator's Prometheus metrics (`ringtrain_operator_*`), on a registry of its own so tests can run several operators. */
export class OperatorMetrics {
  readonly registry = new Registry();
  readonly reconciles = new Counter({
    name: 'ringtrain_operator_reconciles_total',
    help: 'Reconciles by result',
    labelNames: ['result'] as const,
    registers: [this.registry]
  });
  readonly reconcileSeconds = new Histogram({
    name: 'ringtrain_operator_reconcile_duration_seconds',
    help: 'Time of one reconcile, API calls included',
    buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry]
  });
  readonly queueDepth = new Gauge({
    name: 'ringtrain_operator_workqueue_depth',
    help: 'Runs waiting to be reconciled',
    registers: [this.registry]
  });
  readonly relists = new Counter({
    name: 'ringtrain_operator_relists_total',
    help: 'Full lists by resource and reason (410 Gone among them)',
    labelNames: ['resource', 'reason'] as const,
    registers: [this.registry]
  });
  readonly leader = new Gauge({
    name: 'ringtrain_operator_leader',
    help: '1 while this instance holds the leader lease',
    registers: [this.registry]
  });
  readonly runs = new Gauge({
    name: 'ringtrain_operator_runs',
    help: 'TrainingRuns in the cache by phase',
    labelNames: ['phase'] as const,
    registers: [this.registry]
  });
  readonly statusWrites = new Counter({
    name: 'ringtrain_operator_status_writes_total',
    help: 'TrainingRun status writes (a reconcile that changes nothing writes none)',
    registers: [this.registry]
  });
  readonly gangRestarts = new Counter({
    name: 'ringtrain_operator_gang_restarts_total',
    help: 'Gang restarts by failure reason',
    labelNames: ['reason'] as const,
    registers: [this.registry]
  });

  constructor(withProcessMetrics = true) {
    if (withProcessMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'ringtrain_operator_' });
  }
}
