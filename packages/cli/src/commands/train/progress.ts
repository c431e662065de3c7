import { describeBackends, type Coordinator, type EpochRecord, type StepRecord } from '@ringtrain/coordinator';

const percent = (value: number): string => `${(value * 100).toFixed(1)}%`;

function duration(totalSeconds: number): string {
  const s = Math.max(0, Math.round(totalSeconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/**
 * Live progress on stderr from the coordinator's events: on a terminal one bar redrawn in place, elsewhere (CI,
 * a log file) a line every few seconds, so logs stay readable. Epoch summaries and restarts are always lines.
 */
export class ProgressView {
  private readonly tty = process.stderr.isTTY === true;
  private drawn = false;
  private lastLineAt = 0;
  private lastStepAt: number | undefined;
  private stepSeconds: number | undefined;

  constructor(
    private readonly epochs: number,
    coordinator: Coordinator
  ) {
    coordinator.on('generation', ({ generation, ranks }) =>
      this.line(`generation ${generation}: ${ranks.length} ranks in ring order ${ranks.join(' → ')}`)
    );
    coordinator.on('step', (step) => this.step(step));
    coordinator.on('epoch', (epoch) => this.epoch(epoch));
    coordinator.timeline.on('backends', (backends) => {
      const plan = coordinator.timeline.plan();
      this.line(
        `backend: ${plan === null ? backends.map((name, rank) => `rank ${rank}: ${name}`).join(', ') : describeBackends(plan)}`
      );
    });
    coordinator.on('restart', ({ generation, reason }) => {
      this.lastStepAt = undefined;
      this.line(`generation ${generation} ended: ${reason}; all ranks roll back to the last checkpoint`);
    });
  }

  line(text: string): void {
    if (this.drawn) process.stderr.write('\n');
    this.drawn = false;
    process.stderr.write(`${text}\n`);
  }

  done(): void {
    if (this.drawn) process.stderr.write('\n');
    this.drawn = false;
  }

  private step(step: StepRecord): void {
    const now = Date.now();
    // Seconds per step, smoothed; steps redone after a restart and validation pauses only nudge it.
    if (this.lastStepAt !== undefined) {
      const seconds = (now - this.lastStepAt) / 1000;
      this.stepSeconds = this.stepSeconds === undefined ? seconds : 0.8 * this.stepSeconds + 0.2 * seconds;
    }
    this.lastStepAt = now;
    const remaining = (this.epochs - step.epoch) * step.epochSteps - step.epochStep;
    const eta = (this.stepSeconds ?? 0) * remaining;
    const figures = `step ${step.epochStep}/${step.epochSteps} loss ${step.loss.toFixed(3)} acc ${percent(step.accuracy)} ${step.imagesPerSecond.toFixed(1)} img/s ETA ${duration(eta)}`;
    if (this.tty) {
      const width = 20;
      const filled = Math.round((step.epochStep / Math.max(1, step.epochSteps)) * width);
      process.stderr.write(
        `\r\x1b[2Kepoch ${step.epoch + 1}/${this.epochs} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${figures}`
      );
      this.drawn = true;
    } else if (Date.now() - this.lastLineAt > 5_000 || step.epochStep === step.epochSteps) {
      this.lastLineAt = Date.now();
      process.stderr.write(`epoch ${step.epoch + 1}/${this.epochs} ${figures}\n`);
    }
  }

  private epoch(epoch: EpochRecord): void {
    this.line(
      `epoch ${epoch.epoch + 1}/${this.epochs} done in ${duration(epoch.seconds)}: train loss ${epoch.trainLoss.toFixed(3)} acc ${percent(epoch.trainAccuracy)}; ` +
        `${epoch.valImages === 0 ? 'no validation images' : `val loss ${epoch.valLoss.toFixed(3)} acc ${percent(epoch.valAccuracy)} (${epoch.valImages} images)`}; ` +
        `${epoch.imagesPerSecond.toFixed(1)} img/s`
    );
  }
}
