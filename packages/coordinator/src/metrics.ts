import { Counter, Gauge, Registry } from 'prom-client';
import type { CheckpointRecord, EpochRecord, StepRecord } from './records.js';

/**
 * The coordinator's Prometheus metrics, on a registry of its own (not prom-client's global one) so that two
 * coordinators in one process, as in tests, do not collide. Names follow ringtrain_<subsystem>_<what>_<unit>.
 */
export class CoordinatorMetrics {
  readonly registry = new Registry();
  readonly generations = new Counter({
    name: 'ringtrain_coordinator_generations_total',
    help: 'Generations (gangs) formed',
    registers: [this.registry]
  });
  readonly restarts = new Counter({
    name: 'ringtrain_coordinator_restarts_total',
    help: 'Generations ended by a failure',
    registers: [this.registry]
  });
  readonly workers = new Gauge({
    name: 'ringtrain_coordinator_workers_registered',
    help: 'Workers in the current generation, or waiting to form it',
    registers: [this.registry]
  });
  readonly steps = new Counter({
    name: 'ringtrain_train_steps_total',
    help: 'Optimizer steps reported (redone steps after a restart count again)',
    registers: [this.registry]
  });
  readonly images = new Counter({
    name: 'ringtrain_train_images_total',
    help: 'Training images processed across all ranks',
    registers: [this.registry]
  });
  readonly loss = new Gauge({
    name: 'ringtrain_train_loss_nats',
    help: 'Cross-entropy of the last global batch',
    registers: [this.registry]
  });
  readonly accuracy = new Gauge({
    name: 'ringtrain_train_accuracy_ratio',
    help: 'Accuracy of the last global batch',
    registers: [this.registry]
  });
  readonly throughput = new Gauge({
    name: 'ringtrain_train_throughput_images_per_second',
    help: 'Images per second of the last step, all ranks',
    registers: [this.registry]
  });
  readonly phaseSeconds = new Counter({
    name: 'ringtrain_train_phase_seconds_total',
    help: 'Time of rank 0 per step phase (data wait, compute, all-reduce, optimizer)',
    labelNames: ['phase'] as const,
    registers: [this.registry]
  });
  readonly epoch = new Gauge({
    name: 'ringtrain_train_epoch_current',
    help: 'Epoch being trained (0-based)',
    registers: [this.registry]
  });
  readonly valAccuracy = new Gauge({
    name: 'ringtrain_validation_accuracy_ratio',
    help: 'Validation accuracy at the last epoch end',
    registers: [this.registry]
  });
  readonly checkpoints = new Counter({
    name: 'ringtrain_checkpoint_writes_total',
    help: 'Checkpoints committed by rank 0',
    registers: [this.registry]
  });
  readonly checkpointBytes = new Gauge({
    name: 'ringtrain_checkpoint_size_bytes',
    help: 'Size of the last checkpoint',
    registers: [this.registry]
  });

  /** A step report: the run's counters and the last global batch's figures. */
  recordStep(step: StepRecord): void {
    this.steps.inc();
    this.images.inc(step.images);
    this.loss.set(step.loss);
    this.accuracy.set(step.accuracy);
    this.throughput.set(step.imagesPerSecond);
    this.epoch.set(step.epoch);
    this.phaseSeconds.inc({ phase: 'data_wait' }, step.dataWaitSeconds);
    this.phaseSeconds.inc({ phase: 'compute' }, step.computeSeconds);
    this.phaseSeconds.inc({ phase: 'allreduce' }, step.allreduceSeconds);
    this.phaseSeconds.inc({ phase: 'optimizer' }, step.optimizerSeconds);
  }

  recordEpoch(epoch: EpochRecord): void {
    this.valAccuracy.set(epoch.valAccuracy);
  }

  recordCheckpoint(checkpoint: CheckpointRecord): void {
    this.checkpoints.inc();
    this.checkpointBytes.set(checkpoint.bytes);
  }
}
