import {
  describeOptimizer,
  iterationsPerEpoch,
  resolveConfusion,
  timeSplit,
  type ConfusionView
} from './report-model.js';
import type { EpochMetrics, Evaluation, RankStepSeconds, RunMetrics, RunPlanMetrics } from './run-metrics.js';
import {
  confusionHeatmap,
  escapeXml,
  formatSeconds,
  grid,
  lineChart,
  percent,
  segmentedBars,
  stackedBar,
  type LineChartSpec,
  type Series
} from './svg.js';

/**
 * The report as one self-contained HTML file: inline CSS and inline SVG charts, no script and no external
 * request, so it opens offline, from a ticket attachment or an e-mail. Pure: same input, same bytes.
 */

export interface ReportInput {
  metrics: RunMetrics;
  /** Where metrics.json was read from, shown in the footer. */
  source: string;
  /** When the report was made (passed in so that rendering stays pure). */
  generatedAt: Date;
  evaluation?: Evaluation;
}

const COLORS = {
  train: '#1f77b4',
  val: '#d62728',
  throughput: '#2ca02c',
  training: '#1f77b4',
  other: '#b0b0b0'
} as const;

/** The phases of one step, in the order a step runs them. */
const STEP_PHASES = [
  { label: 'waiting for data', color: '#f2b134', key: 'dataWaitSeconds' },
  { label: 'forward + backward', color: '#1f77b4', key: 'computeSeconds' },
  { label: 'all-reduce', color: '#d62728', key: 'allreduceSeconds' },
  { label: 'optimizer', color: '#2ca02c', key: 'optimizerSeconds' }
] as const satisfies readonly { label: string; color: string; key: keyof RankStepSeconds }[];

const epochNumber = (epoch: EpochMetrics): number => epoch.epoch + 1;

type StepMetrics = NonNullable<RunMetrics['steps']>[number];

/** Accuracy on a fixed 0–100% axis, so runs compare at a glance. */
const ACCURACY_AXIS = {
  yDomain: [0, 1],
  yFormat: (value: number) => percent(value, 0)
} as const satisfies Pick<LineChartSpec, 'yDomain' | 'yFormat'>;

/** A quantity's training (solid) and validation (dashed) curves over the epochs. */
function trainingAndValidation(
  metrics: RunMetrics,
  quantity: string,
  training: (epoch: EpochMetrics) => number | null,
  validation: (epoch: EpochMetrics) => number | null
): Series[] {
  const curve = (value: (epoch: EpochMetrics) => number | null) =>
    metrics.epochs.map((epoch) => ({ x: epochNumber(epoch), y: value(epoch) }));
  return [
    { name: `training ${quantity}`, color: COLORS.train, points: curve(training) },
    { name: `validation ${quantity}`, color: COLORS.val, dashed: true, points: curve(validation) }
  ];
}

/** Training and validation loss per epoch. */
export function lossChart(metrics: RunMetrics, width = 480): string {
  return lineChart({
    title: 'Loss (cross-entropy) per epoch',
    xLabel: 'epoch',
    width,
    series: trainingAndValidation(
      metrics,
      'loss',
      (epoch) => epoch.trainLoss,
      (epoch) => epoch.valLoss
    )
  });
}

/** Training and validation accuracy per epoch, on a fixed 0–100% axis so runs compare at a glance. */
export function accuracyChart(metrics: RunMetrics, width = 480): string {
  return lineChart({
    title: 'Accuracy per epoch',
    xLabel: 'epoch',
    width,
    ...ACCURACY_AXIS,
    series: trainingAndValidation(
      metrics,
      'accuracy',
      (epoch) => epoch.trainAccuracy,
      (epoch) => epoch.valAccuracy
    )
  });
}

export function throughputChart(metrics: RunMetrics, width = 480): string {
  return lineChart({
    title: 'Images/s per epoch (all workers)',
    xLabel: 'epoch',
    width,
    series: [
      {
        name: 'images/s',
        color: COLORS.throughput,
        points: metrics.epochs.map((epoch) => ({ x: epochNumber(epoch), y: epoch.imagesPerSecond }))
      }
    ]
  });
}

/**
 * One quantity of every optimizer step (the noisy curve under the per-epoch averages); none for runs that
 * recorded no steps.
 */
function perStepChart(
  metrics: RunMetrics,
  quantity: 'loss' | 'accuracy',
  value: (step: StepMetrics) => number | null,
  width: number
): string | undefined {
  const steps = metrics.steps ?? [];
  if (steps.length < 2) return undefined;
  return lineChart({
    title: `Training ${quantity} per iteration (global batch)`,
    xLabel: 'iteration (optimizer step)',
    xTicks: 'nice',
    width,
    ...(quantity === 'accuracy' ? ACCURACY_AXIS : {}),
    series: [
      {
        name: `training ${quantity} of the step`,
        color: COLORS.train,
        points: steps.map((step) => ({ x: step.globalStep, y: value(step) }))
      }
    ]
  });
}

/** Training loss per optimizer step: the noisy curve under the per-epoch averages; none for older runs. */
export function stepLossChart(metrics: RunMetrics, width = 480): string | undefined {
  return perStepChart(metrics, 'loss', (step) => step.loss, width);
}

export function stepAccuracyChart(metrics: RunMetrics, width = 480): string | undefined {
  return perStepChart(metrics, 'accuracy', (step) => step.accuracy, width);
}

/** What `--png` writes: the curves under a line naming the run and its result. */
export function curvesSvg(metrics: RunMetrics): string {
  const accuracy = metrics.final.valAccuracy === null ? 'n/a' : percent(metrics.final.valAccuracy);
  const heading = `${metrics.runId}: ${metrics.state}, validation accuracy ${accuracy} after ${plural(metrics.epochs.length, 'epoch')}, ${plural(metrics.config.workers, 'worker')} × batch ${metrics.config.batchSize}`;
  const perStep = stepLossChart(metrics);
  return grid(heading, [
    [lossChart(metrics), accuracyChart(metrics)],
    [...(perStep !== undefined ? [perStep] : []), throughputChart(metrics)]
  ]);
}

/** "1 epoch", "4 epochs". */
export function plural(value: number, word: string): string {
  return `${value.toLocaleString('en-US')} ${word}${value === 1 ? '' : 's'}`;
}

function number(value: number | null | undefined, digits = 3): string {
  return value === null || value === undefined || !Number.isFinite(value) ? 'n/a' : value.toFixed(digits);
}

function ratio(value: number | null | undefined): string {
  return value === null || value === undefined || !Number.isFinite(value) ? 'n/a' : percent(value);
}

function count(value: number): string {
  return value.toLocaleString('en-US');
}

function rate(value: number): string {
  return value >= 1e-3 ? String(Number(value.toPrecision(6))) : value.toExponential();
}

function bytes(value: number): string {
  return value >= 2 ** 20 ? `${(value / 2 ** 20).toFixed(1)} MiB` : `${(value / 1024).toFixed(1)} KiB`;
}

const e = escapeXml;

function row(label: string, value: string, note = ''): string {
  return `<tr><th>${e(label)}</th><td>${value}</td>${note === '' ? '' : `<td class="note">${e(note)}</td>`}</tr>`;
}

function tile(label: string, value: string, note = ''): string {
  return `<div class="tile"><div class="label">${e(label)}</div><div class="value">${e(value)}</div>${note === '' ? '' : `<div class="note">${e(note)}</div>`}</div>`;
}

function summarySection(metrics: RunMetrics): string {
  const { final } = metrics;
  const identical = metrics.weightsIdentical ? 'yes' : 'NO';
  return `<section class="tiles">
${tile('final validation accuracy', ratio(final.valAccuracy), chanceNote(metrics))}
${tile('validation loss', number(final.valLoss))}
${tile('training loss', number(final.trainLoss))}
${tile('throughput', final.imagesPerSecond === null ? 'n/a' : `${final.imagesPerSecond.toFixed(1)} images/s`, 'last epoch, all workers')}
${tile('optimizer steps', count(final.globalStep))}
${tile('wall time', formatSeconds(metrics.durationSeconds))}
${tile('restarts', String(metrics.restarts.length))}
${tile('ranks bit-identical', identical, 'same weights on every worker after averaging')}
</section>`;
}

/** "chance: 10%" beside the accuracy: the first thing a newcomer needs to judge a number. */
function chanceNote(metrics: RunMetrics): string {
  const classes = metrics.plan?.dataset.classes.length ?? metrics.config.training.numClasses;
  return classes === undefined ? '' : `chance with ${classes} classes: ${percent(1 / classes)}`;
}

function configSection(metrics: RunMetrics): string {
  const { config } = metrics;
  const training = config.training;
  const optimizer = describeOptimizer(metrics);
  const globalBatch = config.workers * config.batchSize;
  const iterations = iterationsPerEpoch(metrics);
  const rows = [
    row('model', 'ResNet18', 'the final layer sized for the classes'),
    row('weights', e(config.pretrained ?? 'random initialisation (no pretrained weights)')),
    row(
      'frozen',
      training.freezeBackbone === true
        ? `the backbone: only the classifier head trains${training.unfreezeAfterEpochs !== undefined ? `, for ${training.unfreezeAfterEpochs} epochs` : ''}` +
            (training.freezeBatchNorm === true
              ? '; its batch norm in inference mode'
              : '; its batch norm in train mode, running statistics adapting')
        : 'nothing: every layer trains'
    ),
    row('workers', String(config.workers), 'ranks of the ring; each holds a full copy of the model'),
    row('batch size per worker', String(config.batchSize)),
    row(
      'global batch',
      `${config.workers} × ${config.batchSize} = ${globalBatch}`,
      'images whose gradients are averaged into one optimizer step'
    ),
    ...(iterations !== undefined
      ? [
          row(
            'iterations per epoch',
            String(iterations),
            metrics.plan !== undefined ? 'optimizer steps per epoch' : 'optimizer steps per epoch, from the first epoch'
          )
        ]
      : []),
    row(
      'epochs',
      String(config.epochs),
      config.maxSteps !== undefined ? `stopped after ${config.maxSteps} steps at most (--max-steps)` : ''
    ),
    row('optimizer', e(optimizer.name)),
    row(
      'learning rate',
      optimizer.learningRate === undefined ? 'n/a' : rate(optimizer.learningRate),
      optimizer.details.join('; ')
    ),
    ...(training.microBatchSize !== undefined
      ? [row('micro-batch', String(training.microBatchSize), 'each worker batch split for memory; gradients averaged')]
      : []),
    row('image size', training.imageSize !== undefined ? `${training.imageSize} × ${training.imageSize} px` : 'n/a'),
    row('augmentation', config.augment === true ? 'random-resized-crop and horizontal flip' : 'none'),
    row('compute backend', e(metrics.plan?.backend?.perRank?.join(', ') ?? config.backend ?? 'auto')),
    row('seed', String(config.seed ?? 0)),
    row('dataset', e(config.dataset ?? metrics.plan?.dataset.uri ?? 'n/a')),
    row('output', e(config.out ?? 'n/a')),
    row(
      'checkpoints',
      config.checkpointEverySteps
        ? `every ${config.checkpointEverySteps} steps and at each epoch end`
        : 'at each epoch end',
      checkpointNote(metrics)
    )
  ];
  return `<section><h2>Run configuration</h2><table class="kv">${rows.join('\n')}</table></section>`;
}

function checkpointNote(metrics: RunMetrics): string {
  const last = metrics.checkpoints.at(-1);
  return last === undefined
    ? 'none written'
    : `${metrics.checkpoints.length} written, ${bytes(last.bytes)} each (weights, optimizer state, data cursor)`;
}

function planSection(plan: RunPlanMetrics): string {
  const classes = plan.dataset.classes;
  const shown = classes.length <= 12 ? classes.join(', ') : `${classes.slice(0, 10).join(', ')}, … ${classes.at(-1)}`;
  const exact =
    (plan.lastIterationImages ?? plan.globalBatch) === plan.globalBatch && (plan.droppedPerEpoch ?? 0) === 0;
  const lines = [
    row(
      'data',
      `${count(classes.length)} classes (${e(shown)}); ${count(plan.dataset.images)} images: ${count(plan.dataset.trainImages)} training, ${count(plan.dataset.valImages)} validation`
    ),
    row(
      'batch',
      `${plural(plan.workers, 'worker')} × ${plural(plan.batchPerWorker, 'image')} per worker = global batch ${count(plan.globalBatch)}`
    ),
    row(
      'iterations',
      `${count(plan.dataset.trainImages)} training images ÷ global batch ${count(plan.globalBatch)} = ${plural(plan.iterationsPerEpoch, 'iteration')} per epoch` +
        (exact
          ? ''
          : ` (the last one takes ${count(plan.lastIterationImages ?? 0)} images${(plan.droppedPerEpoch ?? 0) > 0 ? `; ${plan.droppedPerEpoch} skipped per epoch so every worker gets as many` : ''})`)
    ),
    row(
      'epochs',
      `${plural(plan.epochs, 'epoch')} × ${plural(plan.iterationsPerEpoch, 'iteration')} = ${plural(plan.totalIterations, 'optimizer step')}${plan.maxSteps !== null && plan.maxSteps !== undefined ? ` (at most ${plan.maxSteps}: --max-steps)` : ''}`
    ),
    row(
      'optimizer',
      `${e(plan.optimizer.kind === 'adam' ? 'Adam' : plan.optimizer.kind === 'sgd' ? 'SGD' : plan.optimizer.kind)}, learning rate ${rate(plan.optimizer.learningRate)}` +
        `${plan.optimizer.schedule !== undefined ? ` (${e(plan.optimizer.schedule)})` : ''}${(plan.optimizer.warmupIterations ?? 0) > 0 ? `, warmup over ${plan.optimizer.warmupIterations} iterations` : ''}`,
      plan.optimizer.scaledWithGlobalBatch === true
        ? 'scaled with the global batch'
        : 'not scaled with the global batch'
    ),
    row(
      'weights',
      plan.pretrained === null
        ? 'random initialisation: no pretrained weights'
        : `pretrained from ${e(plan.pretrained)}; final layer replaced`
    ),
    ...(plan.frozen !== undefined ? [row('frozen', e(plan.frozen))] : []),
    row(
      'images',
      `${plan.imageSize} × ${plan.imageSize} px${plan.augment === true ? ', random-resized-crop and flip for training' : ''}`
    ),
    ...(plan.backend !== undefined
      ? [
          row(
            'backend',
            e(plan.backend.perRank?.map((name, rank) => `rank ${rank}: ${name}`).join(', ') ?? plan.backend.requested)
          )
        ]
      : []),
    ...(plan.output !== undefined ? [row('output', e(plan.output.dir))] : [])
  ];
  return `<section><h2>The run plan</h2><p>What the run set out to do, as <code>ringtrain train</code> printed it before the first step.</p><table class="kv">${lines.join('\n')}</table></section>`;
}

function curvesSection(metrics: RunMetrics): string {
  if (metrics.epochs.length === 0) {
    return '<section><h2>Curves</h2><p>No epoch finished, so there are no curves: the run ended before its first validation.</p></section>';
  }
  const last = metrics.epochs.at(-1)!;
  const gap = last.trainAccuracy !== null && last.valAccuracy !== null ? last.trainAccuracy - last.valAccuracy : null;
  // One epoch is too little to tell over-fitting from a model still learning: say nothing rather than guess.
  let reading = '';
  if (metrics.epochs.length >= 2 && gap !== null) {
    reading =
      gap > 0.1
        ? `Training accuracy ends ${percent(gap, 0)} above validation accuracy: the model fits its training images better than new ones, a sign of over-fitting if the gap keeps growing; more data, augmentation or fewer epochs help.`
        : 'Training and validation accuracy end close together: the model does about as well on images it has not trained on.';
  }
  return `<section><h2>Curves</h2><p>Training figures are averaged over each epoch's steps; validation runs once at the end of each epoch, on images the model never trains on.${metrics.steps !== undefined && metrics.steps.length > 1 ? ' The per-iteration curves show each optimizer step on its own global batch: noisy, because every batch holds different images.' : ''} ${e(reading)}</p>
<div class="charts">${lossChart(metrics)}${accuracyChart(metrics)}${stepLossChart(metrics) ?? ''}${stepAccuracyChart(metrics) ?? ''}</div></section>`;
}

function epochsTable(metrics: RunMetrics): string {
  if (metrics.epochs.length === 0) return '';
  const header =
    '<tr><th>epoch</th><th>generation</th><th>training loss</th><th>training accuracy</th><th>validation loss</th><th>validation accuracy</th><th>images trained</th><th>time</th><th>images/s</th></tr>';
  const rows = metrics.epochs.map(
    (epoch) =>
      `<tr><td>${epochNumber(epoch)}</td><td>${epoch.generation ?? ''}</td><td>${number(epoch.trainLoss)}</td><td>${ratio(epoch.trainAccuracy)}</td>` +
      `<td>${number(epoch.valLoss)}</td><td>${ratio(epoch.valAccuracy)} <span class="note">of ${epoch.valImages}</span></td><td>${count(epoch.samplesTrained)}</td>` +
      `<td>${formatSeconds(epoch.seconds)}</td><td>${number(epoch.imagesPerSecond, 1)}</td></tr>`
  );
  return `<section><h2>Epochs</h2><table class="grid">${header}\n${rows.join('\n')}</table></section>`;
}

function timeSection(metrics: RunMetrics): string {
  const split = timeSplit(metrics);
  const chart = split.consistent
    ? stackedBar('Where the wall time went', [
        { label: 'training steps', seconds: split.trainingSeconds, color: COLORS.training },
        { label: 'start-up, validation, checkpoints, restarts', seconds: split.otherSeconds, color: COLORS.other }
      ])
    : '';
  const note = split.consistent
    ? ''
    : '<p class="note">The epochs include ones trained before the run was resumed, so their time exceeds this session\'s wall time.</p>';
  return `<section><h2>Throughput and time</h2>
<p>Wall time ${formatSeconds(split.totalSeconds)} from the coordinator's start to metrics.json; ${formatSeconds(split.trainingSeconds)} of it inside the epochs' training steps
(loading, forward and backward pass, gradient all-reduce, optimizer). The rest is start-up and rendezvous, validation, checkpoints and any work redone after a restart.</p>
${note}<div class="charts">${chart}${metrics.epochs.length > 0 ? throughputChart(metrics) : ''}</div>${rankSplit(metrics.rankStepSeconds ?? [])}</section>`;
}

/** Each rank's mean step by phase: the all-reduce waits for the slowest rank, so its bar shows who that is. */
function rankSplit(ranks: readonly RankStepSeconds[]): string {
  if (ranks.length === 0) return '';
  const legend = STEP_PHASES.map(({ label, color }) => ({ label, color }));
  const rows = ranks.map((rank) => ({
    label: `rank ${rank.rank}${rank.backend !== undefined ? ` (${rank.backend})` : ''}`,
    parts: STEP_PHASES.map((phase) => rank[phase.key])
  }));
  const header = `<tr><th>rank</th>${STEP_PHASES.map((phase) => `<th>${e(phase.label)}</th>`).join('')}<th>step</th></tr>`;
  const lines = ranks.map((rank, index) => {
    const total = STEP_PHASES.reduce((sum, phase) => sum + rank[phase.key], 0);
    return `<tr><td>${e(rows[index]!.label)}</td>${STEP_PHASES.map((phase) => `<td>${rank[phase.key].toFixed(3)} s</td>`).join('')}<td>${total.toFixed(3)} s</td></tr>`;
  });
  return `<h3>The mean step, rank by rank</h3>
<p>Each rank computes its gradients on its own images, then the ranks average them together: a rank's all-reduce time includes waiting for the slowest rank, so when one rank's all-reduce is much longer than another's, the other was still computing.</p>
<div class="charts">${segmentedBars('Mean seconds per step, by phase', legend, rows)}
<table class="grid">${header}\n${lines.join('\n')}</table></div>`;
}

function restartsSection(metrics: RunMetrics): string {
  if (metrics.restarts.length === 0) {
    return `<section><h2>Restarts</h2><p>None: the run finished in its first generation${metrics.generations > 1 ? ` (${metrics.generations} generations)` : ''}.</p></section>`;
  }
  const rows = metrics.restarts.map(
    (restart) => `<tr><td>${restart.generation}</td><td>${e(restart.at)}</td><td>${e(restart.reason)}</td></tr>`
  );
  return `<section><h2>Restarts</h2><p>Each restart ended a generation and resumed every worker from the last checkpoint (${metrics.generations} generations in all).</p>
<table class="grid"><tr><th>generation ended</th><th>at</th><th>reason</th></tr>\n${rows.join('\n')}</table></section>`;
}

function confusionSection(confusion: ConfusionView): string {
  const rows = confusion.perClass.map(
    (entry) =>
      `<tr><td>${e(entry.name)}</td><td>${entry.correct} / ${entry.count}</td><td>${bar(entry.accuracy)} ${ratio(entry.accuracy)}</td></tr>`
  );
  return `<section><h2>Confusion matrix and per-class accuracy</h2>
<p>From ${e(confusion.source)}. Row = the true class, column = what the model predicted: the diagonal is right, everything else is a mix-up between two classes.</p>
<div class="charts">${confusionHeatmap({ classes: confusion.classes, counts: confusion.counts })}
<table class="grid"><tr><th>class</th><th>correct</th><th>accuracy</th></tr>\n${rows.join('\n')}</table></div></section>`;
}

function bar(value: number | null): string {
  const width = value === null ? 0 : Math.round(Math.max(0, Math.min(1, value)) * 100);
  return `<span class="bar"><span style="width:${width}px"></span></span>`;
}

function modelSection(metrics: RunMetrics): string {
  const locations = Object.entries(metrics.summary).filter(
    (entry): entry is [string, string] => typeof entry[1] === 'string'
  );
  const rows = locations.map(([key, value]) => row(key, `<code>${e(value)}</code>`));
  const hashes = [...new Set(metrics.weightsSha256)];
  rows.push(
    row(
      'weights sha256',
      hashes.map((hash) => `<code>${e(hash)}</code>`).join('<br>') || 'n/a',
      metrics.weightsIdentical ? 'identical on every rank' : 'ranks differ'
    )
  );
  return `<section><h2>Model</h2><table class="kv">${rows.join('\n')}</table></section>`;
}

const STYLE = `
body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px;line-height:1.4}
h1{font-size:22px;margin-bottom:4px}h3{font-size:15px;margin-top:18px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}
.state{display:inline-block;padding:1px 8px;border-radius:4px;color:#fff;font-size:14px;vertical-align:middle}
.succeeded{background:#1a7f37}.failed{background:#cf222e}.stopped{background:#9a6700}
.tiles{display:flex;flex-wrap:wrap;gap:10px;margin-top:16px}.tile{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:150px}
.tile .label{font-size:12px;color:#555}.tile .value{font-size:20px;font-weight:bold}
.note{font-size:12px;color:#666}.charts{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
table{border-collapse:collapse;font-size:14px}.kv th{text-align:left;padding:3px 14px 3px 0;color:#444;font-weight:normal;white-space:nowrap;vertical-align:top}
.kv td{padding:3px 14px 3px 0}.grid th,.grid td{border:1px solid #ddd;padding:3px 8px;text-align:right}.grid th{background:#f6f6f6}
.grid td:first-child{text-align:left}.bar{display:inline-block;width:100px;height:9px;background:#eee;vertical-align:middle}
.bar span{display:block;height:9px;background:#1f57a8}code{font-size:12px;word-break:break-all}footer{margin-top:32px;font-size:12px;color:#666}`;

/** The whole report. */
export function renderReportHtml(input: ReportInput): string {
  const { metrics } = input;
  const confusion = resolveConfusion(metrics, input.evaluation);
  const sections = [
    summarySection(metrics),
    ...(metrics.plan !== undefined ? [planSection(metrics.plan)] : []),
    curvesSection(metrics),
    epochsTable(metrics),
    timeSection(metrics),
    restartsSection(metrics),
    ...(confusion !== undefined ? [confusionSection(confusion)] : []),
    configSection(metrics),
    modelSection(metrics)
  ];
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(`ringtrain report: ${metrics.runId}`)}</title><style>${STYLE}</style></head>
<body>
<h1>${e(metrics.runId)} <span class="state ${metrics.state}">${e(metrics.state)}</span></h1>
<div class="note">${e(metrics.reason)} · started ${e(metrics.startedAt)} · finished ${e(metrics.finishedAt)} · ResNet18, ${metrics.config.workers} workers</div>
${sections.join('\n')}
<footer>Made by <code>ringtrain report</code> from ${e(input.source)} on ${e(input.generatedAt.toISOString())}. Self-contained: no scripts, no external requests.</footer>
</body></html>
`;
}
