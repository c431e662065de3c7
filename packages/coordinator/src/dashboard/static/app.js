// The live dashboard of one run. Plain browser JavaScript on purpose: the coordinator serves these files as
// they are (no bundler, no CDN), so the page works offline and from a pod through `kubectl port-forward`.
// Every URL is relative, so the page also works behind a path prefix (the API server's service proxy).
/* global uPlot */
'use strict';

const POLL_MS = 1000;
const UNREACHABLE_POLL_MS = 5000;
const PHASES = [
  ['dataWaitSeconds', 'data-wait', 'data wait'],
  ['computeSeconds', 'compute', 'compute'],
  ['allreduceSeconds', 'allreduce', 'all-reduce'],
  ['optimizerSeconds', 'optimizer', 'optimizer']
];

// Steps and epochs are whole numbers: the x axes tick on them only.
const WHOLE_INCREMENTS = [
  1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000, 500000, 1000000
];

const view = {
  version: -1,
  points: [],
  charts: new Map(),
  /** (time, global step) samples of the last minute, for the ETA. */
  pace: []
};

const byId = (id) => document.getElementById(id);
const percent = (ratio) => `${(ratio * 100).toFixed(1)}%`;
const seconds = (value) => (value >= 1 ? `${value.toFixed(2)} s` : `${(value * 1000).toFixed(0)} ms`);

function clock(totalSeconds) {
  const s = Math.max(0, Math.round(totalSeconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${h > 0 ? `${h}:${String(m).padStart(2, '0')}` : m}:${String(s % 60).padStart(2, '0')}`;
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className !== undefined) node.className = className;
  return node;
}

async function fetchJson(url) {
  const response = await fetch(url, { cache: 'no-store' });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

/** A uPlot line chart in `containerId`, made on first use and fed whole columns afterwards. */
function drawChart(containerId, xLabel, series, columns) {
  const container = byId(containerId);
  container.dataset.points = String(columns[0].length);
  let chart = view.charts.get(containerId);
  if (chart === undefined) {
    if (columns[0].length === 0) return;
    container.textContent = '';
    chart = new uPlot(
      {
        width: Math.max(200, container.clientWidth),
        height: 220,
        scales: { x: { time: false } },
        legend: { live: true },
        series: [{ label: xLabel }, ...series],
        axes: [{ label: xLabel, incrs: WHOLE_INCREMENTS }, {}]
      },
      columns,
      container
    );
    view.charts.set(containerId, chart);
  } else {
    chart.setData(columns);
  }
}

function line(label, stroke, extra) {
  return { label, stroke, width: 1.5, spanGaps: true, ...extra };
}

function drawSteps() {
  const points = view.points;
  const steps = points.map((point) => point.globalStep);
  drawChart(
    'loss-chart',
    'global step',
    [line('training loss', '#2f6fdb')],
    [steps, points.map((point) => point.loss)]
  );
  drawChart(
    'accuracy-chart',
    'global step',
    [line('training accuracy %', '#3aa67a')],
    [steps, points.map((point) => point.accuracy * 100)]
  );
  drawChart(
    'throughput-chart',
    'global step',
    [line('images/s', '#8a4fd8')],
    [steps, points.map((point) => point.imagesPerSecond)]
  );
}

function drawEpochs(history) {
  const dots = { points: { show: true, size: 7 } };
  drawChart(
    'epoch-chart',
    'epoch',
    [line('training accuracy %', '#3aa67a', dots), line('validation accuracy %', '#d8573a', dots)],
    [
      history.map((epoch) => epoch.epoch + 1),
      history.map((epoch) => epoch.trainAccuracy * 100),
      history.map((epoch) => epoch.valAccuracy * 100)
    ]
  );
}

/** ` (2 pods × 2 ranks)` when pods run several ranks (a worker is one rank); nothing otherwise. */
function podsOf(status) {
  const perPod = status.ranksPerPod ?? 1;
  return perPod > 1 ? ` (${Math.ceil(status.worldSize / perPod)} pods × ${perPod} ranks)` : '';
}

function drawHeader(status, plan) {
  document.body.dataset.state = status.state;
  byId('run-id').textContent = status.runId;
  const state = byId('state');
  state.textContent =
    status.state === 'failed' || status.state === 'stopped' ? `${status.state}: ${status.reason}` : status.state;
  state.className = `badge ${status.state}`;
  byId('generation').textContent =
    `generation ${Math.max(0, status.generation)} · ${status.registered}/${status.worldSize} workers${podsOf(status)} · ${clock(status.elapsedSeconds)} elapsed`;
  const step = status.lastStep;
  if (step === undefined || step === null) {
    byId('progress-text').textContent =
      status.state === 'rendezvous'
        ? `waiting for ${status.worldSize} workers to register (${status.registered} so far)…`
        : 'waiting for the first step…';
    return;
  }
  const total = plan?.totalIterations ?? status.epochs * step.epochSteps;
  const done = status.state === 'succeeded' ? total : Math.min(total, step.globalStep);
  byId('progress-fill').style.width = `${((done / Math.max(1, total)) * 100).toFixed(1)}%`;
  const now = Date.now();
  view.pace.push({ at: now, step: step.globalStep });
  view.pace = view.pace.filter((sample) => now - sample.at < 60_000 && sample.step <= step.globalStep);
  const first = view.pace[0];
  const rate =
    first !== undefined && step.globalStep > first.step
      ? (step.globalStep - first.step) / ((now - first.at) / 1000)
      : undefined;
  const eta =
    status.state === 'running' && rate !== undefined
      ? ` · ETA ≈ ${clock((total - step.globalStep) / rate)} (validation not counted)`
      : '';
  byId('progress-text').textContent =
    `epoch ${step.epoch + 1} of ${status.epochs} · iteration ${step.epochStep} of ${step.epochSteps} · ${done} of ${total} iterations in all` +
    ` · loss ${step.loss.toFixed(3)} · accuracy ${percent(step.accuracy)} · ${step.imagesPerSecond.toFixed(1)} images/s · learning rate ${step.learningRate}${eta}`;
}

function drawRankTimes(rankTimes) {
  const container = byId('rank-times');
  if (rankTimes.mean.length === 0) return;
  container.textContent = '';
  const longest = Math.max(
    ...rankTimes.mean.map((rank) => PHASES.reduce((sum, [field]) => sum + rank[field], 0)),
    1e-9
  );
  for (const rank of rankTimes.mean) {
    const row = element('div', undefined, 'rank-row');
    const total = PHASES.reduce((sum, [field]) => sum + rank[field], 0);
    row.append(element('span', `rank ${rank.rank} (${rank.backend || '?'})`));
    const stack = element('div', undefined, 'stack');
    for (const [field, className, label] of PHASES) {
      const part = element('div', undefined, className);
      part.style.width = `${((rank[field] / longest) * 100).toFixed(2)}%`;
      part.title = `${label}: ${seconds(rank[field])}`;
      stack.append(part);
    }
    row.append(stack);
    row.append(element('span', `${seconds(total)}: ${PHASES.map(([field]) => seconds(rank[field])).join(' / ')}`));
    container.append(row);
  }
}

function drawRestarts(restarts) {
  const container = byId('restarts');
  container.textContent = '';
  if (restarts.length === 0) {
    container.append(element('p', 'none: every generation so far ran without a failure', 'muted'));
    return;
  }
  for (const restart of restarts) {
    container.append(
      element(
        'p',
        `${new Date(restart.at).toLocaleTimeString()} · generation ${restart.generation} ended: ${restart.reason}; all ranks resumed from the last checkpoint`,
        'restart'
      )
    );
  }
}

function drawValidation(validation, state) {
  if (validation === null) return;
  byId('validation-empty').hidden = true;
  byId('validation-epoch').textContent =
    `(epoch ${validation.epoch + 1}${state === 'succeeded' ? ', the final model' : ''})`;
  const confusion = byId('confusion');
  confusion.textContent = '';
  const head = element('tr');
  head.append(element('th', 'true \\ predicted'));
  for (const name of validation.classes) head.append(element('th', name));
  confusion.append(head);
  validation.confusion.forEach((row, truth) => {
    const tr = element('tr');
    tr.append(element('th', validation.classes[truth]));
    const rowTotal = row.reduce((sum, cell) => sum + cell, 0);
    row.forEach((cell, predicted) => {
      const td = element('td', String(cell), predicted === truth ? 'diagonal' : undefined);
      const share = rowTotal > 0 ? cell / rowTotal : 0;
      // Right answers in green, confusions in red, by their share of the true class's images.
      td.style.background =
        cell === 0
          ? 'transparent'
          : predicted === truth
            ? `rgba(58, 166, 122, ${0.15 + 0.7 * share})`
            : `rgba(216, 87, 58, ${0.15 + 0.7 * share})`;
      tr.append(td);
    });
    confusion.append(tr);
  });
  const perClass = byId('per-class');
  perClass.textContent = '';
  const header = element('tr');
  for (const title of ['class', 'correct', 'images', 'accuracy']) header.append(element('th', title));
  perClass.append(header);
  for (const each of validation.perClass) {
    const tr = element('tr');
    tr.append(element('th', each.className));
    tr.append(element('td', String(each.correct)));
    tr.append(element('td', String(each.total)));
    const cell = element('td', each.accuracy === null ? 'n/a' : percent(each.accuracy));
    if (each.accuracy !== null) {
      const bar = element('span', undefined, 'accuracy-bar');
      bar.style.width = `${Math.round(each.accuracy * 80)}px`;
      cell.append(bar);
    }
    tr.append(cell);
    perClass.append(tr);
  }
}

function mergeSteps(steps) {
  view.points = steps.reset ? steps.points : view.points.concat(steps.points);
  view.version = steps.version;
}

async function poll() {
  let delay = POLL_MS;
  try {
    const after = view.points.length > 0 ? view.points[view.points.length - 1].globalStep : -1;
    const [status, data] = await Promise.all([
      fetchJson('status'),
      fetchJson(`dashboard/data.json?version=${view.version}&after=${after}`)
    ]);
    mergeSteps(data.steps);
    drawHeader(status, data.plan);
    drawSteps();
    drawEpochs(status.history);
    drawRankTimes(data.rankTimes);
    drawRestarts(status.restarts);
    drawValidation(data.validation, status.state);
    if (data.planText !== null) byId('plan').textContent = data.planText;
    byId('connection').textContent = `live · updated ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    // `ringtrain train` closes the coordinator when the run ends: keep what was drawn and say so.
    byId('connection').textContent =
      `coordinator unreachable (${error instanceof Error ? error.message : String(error)}); the run may have ended — showing the last data`;
    const state = byId('state');
    if (!state.textContent.endsWith('(last seen)')) state.textContent = `${state.textContent} (last seen)`;
    delay = UNREACHABLE_POLL_MS;
  }
  setTimeout(poll, delay);
}

window.addEventListener('resize', () => {
  for (const [id, chart] of view.charts) chart.setSize({ width: Math.max(200, byId(id).clientWidth), height: 220 });
});

poll();
