/**
 * Charts as SVG strings, drawn here rather than in a browser so that a report is one self-contained file that
 * renders offline, in an e-mail or a ticket, and rasterises to PNG with the same drawing. Pure functions only.
 */

/** Escapes text for SVG/HTML content and attribute values; class names and reasons come from users. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

/** Maps a domain linearly onto a range; a degenerate domain maps everything to the range's middle. */
export function linearScale(
  domain: readonly [number, number],
  range: readonly [number, number]
): (value: number) => number {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  if (d1 === d0) return () => (r0 + r1) / 2;
  const factor = (r1 - r0) / (d1 - d0);
  return (value) => r0 + (value - d0) * factor;
}

/** Step of about `count` ticks over `span`: 1, 2 or 5 × 10^k, so tick labels stay short. */
function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const fraction = raw / magnitude;
  const nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10;
  return nice * magnitude;
}

/** Rounds away the binary noise of `k × step` (0.30000000000000004 → 0.3). */
function clean(value: number): number {
  return Number(value.toPrecision(12));
}

/**
 * Ticks at round values covering [min, max] (the first at or below min, the last at or above max), about
 * `count` of them. A zero-width range is widened so a flat curve still gets an axis.
 */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max))
    throw new Error(`niceTicks: the range [${min}, ${max}] is not finite`);
  let low = Math.min(min, max);
  let high = Math.max(min, max);
  if (high === low) {
    const pad = low === 0 ? 1 : Math.abs(low) / 2;
    low -= pad;
    high += pad;
  }
  const step = niceStep(high - low, count);
  const first = Math.floor(low / step + 1e-9);
  const last = Math.ceil(high / step - 1e-9);
  const ticks: number[] = [];
  for (let k = first; k <= last; k += 1) ticks.push(clean(k * step));
  return ticks;
}

/** Integer ticks (epochs) from min to max, thinned to about `count` so labels do not collide. */
export function integerTicks(min: number, max: number, count = 10): number[] {
  const step = Math.max(1, Math.ceil((max - min + 1) / count));
  const ticks: number[] = [];
  for (let value = min; value <= max; value += step) ticks.push(value);
  return ticks;
}

/** Shortest plain label for a tick value: no exponent for ordinary numbers, no trailing zeros. */
export function formatTick(value: number): string {
  if (value === 0) return '0';
  const magnitude = Math.abs(value);
  if (magnitude >= 1e6 || magnitude < 1e-3) return value.toExponential(1).replace('.0e', 'e');
  return String(clean(value));
}

export const percent = (value: number, digits = 1): string => `${(value * 100).toFixed(digits)}%`;

export const FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif';

export interface Series {
  name: string;
  color: string;
  dashed?: boolean;
  /** One point per x; a null or non-finite y leaves a gap (a diverged loss is stored as null). */
  points: readonly { x: number; y: number | null }[];
}

export interface LineChartSpec {
  title: string;
  xLabel: string;
  series: readonly Series[];
  width?: number;
  height?: number;
  /** Fixed y range (accuracy: 0–1); otherwise from 0 (or the data's minimum when below 0) to the maximum. */
  yDomain?: readonly [number, number];
  yFormat?: (value: number) => string;
  /** Epochs get a tick each (thinned when many); steps get round numbers. */
  xTicks?: 'integer' | 'nice';
}

/** Beyond this many points a series is drawn as a line only: markers would merge into a smear. */
const MAX_MARKERS = 60;

interface Box {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

const AXIS_COLOR = '#555';
const GRID_COLOR = '#e3e3e3';

function text(x: number, y: number, content: string, attributes = ''): string {
  return `<text x="${round(x)}" y="${round(y)}" ${attributes}>${escapeXml(content)}</text>`;
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

function finite(y: number | null): y is number {
  return y !== null && Number.isFinite(y);
}

/** A titled line chart with axes, grid and legend; a marker on every point while there are few (epochs). */
export function lineChart(spec: LineChartSpec): string {
  const width = spec.width ?? 480;
  const height = spec.height ?? 300;
  const box: Box = { left: 56, top: 34, right: width - 14, bottom: height - 62 };
  const xs = spec.series.flatMap((series) => series.points.map((point) => point.x));
  const ys = spec.series.flatMap((series) => series.points.map((point) => point.y)).filter(finite);
  const xMin = xs.length > 0 ? Math.min(...xs) : 0;
  const xMax = xs.length > 0 ? Math.max(...xs) : 1;
  const yTicks =
    spec.yDomain !== undefined
      ? niceTicks(spec.yDomain[0], spec.yDomain[1])
      : niceTicks(Math.min(0, ...ys), ys.length > 0 ? Math.max(...ys) : 1);
  const yDomain: [number, number] = [yTicks[0]!, yTicks.at(-1)!];
  const xTicks =
    spec.xTicks === 'nice' && xMax > xMin
      ? niceTicks(xMin, xMax, 6).filter((tick) => tick >= xMin && tick <= xMax && Number.isInteger(tick))
      : integerTicks(xMin, xMax);
  // A single epoch still gets a visible x axis: half an epoch of room either side.
  const x = linearScale(xMin === xMax ? [xMin - 0.5, xMax + 0.5] : [xMin, xMax], [box.left + 8, box.right - 8]);
  const y = linearScale(yDomain, [box.bottom, box.top]);
  const yFormat = spec.yFormat ?? formatTick;
  const parts: string[] = [];
  parts.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#fff"/>`);
  parts.push(text(box.left, 20, spec.title, 'font-size="14" font-weight="bold" fill="#222"'));
  for (const tick of yTicks) {
    const ty = round(y(tick));
    parts.push(
      `<line x1="${box.left}" y1="${ty}" x2="${box.right}" y2="${ty}" stroke="${GRID_COLOR}" stroke-width="1"/>`
    );
    parts.push(text(box.left - 6, ty + 4, yFormat(tick), `font-size="11" text-anchor="end" fill="${AXIS_COLOR}"`));
  }
  for (const tick of xTicks) {
    const tx = round(x(tick));
    parts.push(
      `<line x1="${tx}" y1="${box.bottom}" x2="${tx}" y2="${box.bottom + 4}" stroke="${AXIS_COLOR}" stroke-width="1"/>`
    );
    parts.push(text(tx, box.bottom + 17, formatTick(tick), `font-size="11" text-anchor="middle" fill="${AXIS_COLOR}"`));
  }
  parts.push(
    `<line x1="${box.left}" y1="${box.bottom}" x2="${box.right}" y2="${box.bottom}" stroke="${AXIS_COLOR}" stroke-width="1"/>`
  );
  parts.push(
    `<line x1="${box.left}" y1="${box.top}" x2="${box.left}" y2="${box.bottom}" stroke="${AXIS_COLOR}" stroke-width="1"/>`
  );
  parts.push(
    text(
      (box.left + box.right) / 2,
      box.bottom + 33,
      spec.xLabel,
      `font-size="12" text-anchor="middle" fill="${AXIS_COLOR}"`
    )
  );
  for (const series of spec.series) {
    const dash = series.dashed === true ? ' stroke-dasharray="6 4"' : '';
    // Consecutive finite points form one segment; a null breaks the line instead of dropping to zero.
    let segment: string[] = [];
    const segments: string[][] = [];
    for (const point of series.points) {
      if (finite(point.y)) segment.push(`${round(x(point.x))},${round(y(point.y))}`);
      else if (segment.length > 0) {
        segments.push(segment);
        segment = [];
      }
    }
    if (segment.length > 0) segments.push(segment);
    for (const points of segments) {
      if (points.length > 1)
        parts.push(
          `<polyline points="${points.join(' ')}" fill="none" stroke="${series.color}" stroke-width="2"${dash}/>`
        );
    }
    for (const point of series.points.length <= MAX_MARKERS ? series.points : []) {
      if (finite(point.y))
        parts.push(`<circle cx="${round(x(point.x))}" cy="${round(y(point.y))}" r="3" fill="${series.color}"/>`);
    }
  }
  let legendX = box.left;
  const legendY = height - 12;
  for (const series of spec.series) {
    const dash = series.dashed === true ? ' stroke-dasharray="6 4"' : '';
    parts.push(
      `<line x1="${legendX}" y1="${legendY - 4}" x2="${legendX + 22}" y2="${legendY - 4}" stroke="${series.color}" stroke-width="2"${dash}/>`
    );
    parts.push(text(legendX + 27, legendY, series.name, 'font-size="12" fill="#222"'));
    legendX += 40 + series.name.length * 7;
  }
  return svgDocument(width, height, spec.title, parts);
}

export interface Segment {
  label: string;
  seconds: number;
  color: string;
}

/** One horizontal bar split into labelled segments (where the run's time went), with a legend below. */
export function stackedBar(title: string, segments: readonly Segment[], width = 720): string {
  const height = 44 + 22 * Math.ceil(segments.length / 2) + 16;
  const total = segments.reduce((sum, segment) => sum + Math.max(0, segment.seconds), 0);
  const left = 10;
  const right = width - 10;
  const parts: string[] = [`<rect x="0" y="0" width="${width}" height="${height}" fill="#fff"/>`];
  parts.push(text(left, 18, title, 'font-size="14" font-weight="bold" fill="#222"'));
  let offset = left;
  for (const segment of segments) {
    const share = total > 0 ? Math.max(0, segment.seconds) / total : 0;
    const segmentWidth = share * (right - left);
    if (segmentWidth > 0)
      parts.push(
        `<rect x="${round(offset)}" y="26" width="${round(segmentWidth)}" height="18" fill="${segment.color}"/>`
      );
    offset += segmentWidth;
  }
  segments.forEach((segment, index) => {
    const column = index % 2;
    const row = Math.floor(index / 2);
    const lx = left + column * ((right - left) / 2);
    const ly = 66 + row * 22;
    const share = total > 0 ? Math.max(0, segment.seconds) / total : 0;
    parts.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${segment.color}"/>`);
    parts.push(
      text(
        lx + 18,
        ly,
        `${segment.label}: ${formatSeconds(segment.seconds)} (${percent(share, 0)})`,
        'font-size="12" fill="#222"'
      )
    );
  });
  return svgDocument(width, height, title, parts);
}

export interface BarRow {
  label: string;
  /** Seconds of each part, in the order of the legend. */
  parts: readonly number[];
}

/**
 * One horizontal bar per row on a shared seconds axis, each split into the legend's parts: where a step's time
 * goes on each rank, and which rank the others wait for.
 */
export function segmentedBars(
  title: string,
  legend: readonly { label: string; color: string }[],
  rows: readonly BarRow[],
  width = 720
): string {
  const left = 110;
  const right = width - 20;
  const top = 30;
  const barHeight = 18;
  const rowGap = 8;
  const axisY = top + rows.length * (barHeight + rowGap);
  const height = axisY + 34 + 20 * Math.ceil(legend.length / 4);
  const longest = Math.max(0, ...rows.map((row) => row.parts.reduce((sum, part) => sum + Math.max(0, part), 0)));
  const ticks = niceTicks(0, longest > 0 ? longest : 1, 5);
  const x = linearScale([0, ticks.at(-1)!], [left, right]);
  const parts: string[] = [`<rect x="0" y="0" width="${width}" height="${height}" fill="#fff"/>`];
  parts.push(text(10, 18, title, 'font-size="14" font-weight="bold" fill="#222"'));
  for (const tick of ticks) {
    const tx = round(x(tick));
    parts.push(`<line x1="${tx}" y1="${top - 4}" x2="${tx}" y2="${axisY}" stroke="${GRID_COLOR}" stroke-width="1"/>`);
    parts.push(
      text(tx, axisY + 14, `${formatTick(tick)} s`, `font-size="11" text-anchor="middle" fill="${AXIS_COLOR}"`)
    );
  }
  rows.forEach((row, index) => {
    const y = top + index * (barHeight + rowGap);
    parts.push(text(left - 8, y + 13, truncate(row.label, 16), 'font-size="12" text-anchor="end" fill="#222"'));
    let offset = 0;
    row.parts.forEach((seconds, part) => {
      const value = Math.max(0, seconds);
      if (value > 0) {
        const color = legend[part]?.color ?? '#999';
        parts.push(
          `<rect x="${round(x(offset))}" y="${y}" width="${round(x(offset + value) - x(offset))}" height="${barHeight}" fill="${color}"><title>${escapeXml(`${row.label}, ${legend[part]?.label ?? ''}: ${value.toFixed(3)} s`)}</title></rect>`
        );
      }
      offset += value;
    });
  });
  legend.forEach((entry, index) => {
    const lx = 10 + (index % 4) * ((width - 20) / 4);
    const ly = axisY + 36 + Math.floor(index / 4) * 20;
    parts.push(`<rect x="${round(lx)}" y="${ly - 10}" width="12" height="12" fill="${entry.color}"/>`);
    parts.push(text(lx + 18, ly, entry.label, 'font-size="12" fill="#222"'));
  });
  return svgDocument(width, height, title, parts);
}

/** 84 s, 12.3 s, 4 min 05 s, 1 h 02 min: durations as people read them. */
export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return 'n/a';
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 120) return `${Math.round(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 120) return `${minutes} min ${String(Math.round(seconds - minutes * 60)).padStart(2, '0')} s`;
  const hours = Math.floor(minutes / 60);
  return `${hours} h ${String(minutes - hours * 60).padStart(2, '0')} min`;
}

/** Shortens a label to `max` characters with an ellipsis, so long class names cannot overrun a chart. */
export function truncate(label: string, max: number): string {
  const characters = [...label];
  return characters.length <= max ? label : `${characters.slice(0, Math.max(1, max - 1)).join('')}…`;
}

export interface ConfusionInput {
  classes: readonly string[];
  /** counts[truth][prediction]. */
  counts: readonly (readonly number[])[];
}

/** White → blue by the share of a true class that went to each prediction (rows sum to 1). */
function cellColor(share: number): string {
  const mix = (from: number, to: number): number => Math.round(from + (to - from) * Math.min(1, Math.max(0, share)));
  return `rgb(${mix(255, 31)},${mix(255, 87)},${mix(255, 168)})`;
}

/**
 * The confusion matrix as a heat map: rows are the true classes, columns the predictions, colour the share of
 * each row, counts written in the cells while they fit. Every class name is escaped and truncated.
 */
export function confusionHeatmap(
  confusion: ConfusionInput,
  title = 'Confusion matrix (rows: true class, columns: predicted)'
): string {
  const n = confusion.classes.length;
  const cell = n <= 12 ? 36 : n <= 30 ? 20 : Math.max(6, Math.floor(600 / n));
  const showCounts = cell >= 20;
  const showLabels = cell >= 12;
  // Room for the longest (truncated) name at ~7 px a character, so short names leave no empty margin.
  const longestName = Math.max(1, ...confusion.classes.map((name) => [...truncate(name, 16)].length));
  const labelWidth = showLabels ? Math.min(110, 12 + 7 * longestName) : 20;
  const left = labelWidth + 24;
  // Column names are written at 60°: their height is about 0.87 × their length.
  const top = 44 + (showLabels ? Math.min(100, 14 + 6 * longestName) : 10);
  // The last column's name leans right by about half its length.
  const width = Math.max(left + n * cell + 20 + (showLabels ? 4 * longestName : 0), 420);
  const height = top + n * cell + 30;
  const parts: string[] = [`<rect x="0" y="0" width="${width}" height="${height}" fill="#fff"/>`];
  parts.push(text(10, 18, title, 'font-size="14" font-weight="bold" fill="#222"'));
  parts.push(text(left + (n * cell) / 2, 36, 'predicted', `font-size="12" text-anchor="middle" fill="${AXIS_COLOR}"`));
  parts.push(
    text(
      14,
      top + (n * cell) / 2,
      'true',
      `font-size="12" text-anchor="middle" fill="${AXIS_COLOR}" transform="rotate(-90 14 ${round(top + (n * cell) / 2)})"`
    )
  );
  // The diagonal (right answers) is outlined last, so that no neighbouring cell paints over its frame.
  const diagonal: string[] = [];
  for (let truth = 0; truth < n; truth += 1) {
    const row = confusion.counts[truth] ?? [];
    const rowTotal = row.reduce((sum, value) => sum + value, 0);
    const name = confusion.classes[truth]!;
    if (showLabels) {
      parts.push(
        text(
          left - 6,
          top + truth * cell + cell / 2 + 4,
          truncate(name, 16),
          `font-size="11" text-anchor="end" fill="#222"`
        )
      );
      const cx = left + truth * cell + cell / 2;
      parts.push(
        text(
          cx + 4,
          top - 6,
          truncate(name, 16),
          `font-size="11" fill="#222" transform="rotate(-60 ${round(cx + 4)} ${top - 6})"`
        )
      );
    }
    for (let predicted = 0; predicted < n; predicted += 1) {
      const count = row[predicted] ?? 0;
      const share = rowTotal > 0 ? count / rowTotal : 0;
      const cx = left + predicted * cell;
      const cy = top + truth * cell;
      if (truth === predicted)
        diagonal.push(
          `<rect x="${cx + 1}" y="${cy + 1}" width="${cell - 2}" height="${cell - 2}" fill="none" stroke="#1a7f37" stroke-width="2"/>`
        );
      parts.push(
        `<rect x="${cx}" y="${cy}" width="${cell}" height="${cell}" fill="${cellColor(share)}" stroke="#fff" stroke-width="1"><title>${escapeXml(`${name} → ${confusion.classes[predicted]!}: ${count}`)}</title></rect>`
      );
      if (showCounts && count > 0) {
        parts.push(
          text(
            cx + cell / 2,
            cy + cell / 2 + 4,
            String(count),
            `font-size="${cell >= 30 ? 12 : 9}" text-anchor="middle" fill="${share > 0.5 ? '#fff' : '#222'}"`
          )
        );
      }
    }
  }
  return svgDocument(width, height, title, [...parts, ...diagonal]);
}

function svgDocument(width: number, height: number, title: string, parts: readonly string[]): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}" role="img">` +
    `<title>${escapeXml(title)}</title>${parts.join('')}</svg>`
  );
}

function svgSize(svg: string): { width: number; height: number } {
  const size = /width="(\d+(?:\.\d+)?)" height="(\d+(?:\.\d+)?)"/.exec(svg);
  if (size === null) throw new Error('an SVG without width and height cannot be placed');
  return { width: Number(size[1]), height: Number(size[2]) };
}

/**
 * Places SVG documents in rows (each row left to right) under a one-line heading, in one SVG: the PNG export
 * needs one image, and a PNG attached to a ticket must say which run it shows.
 */
export function grid(heading: string, rows: readonly (readonly string[])[], gap = 12): string {
  const headingHeight = 30;
  let y = headingHeight;
  let width = 0;
  const placed: string[] = [];
  for (const row of rows) {
    let x = 0;
    let rowHeight = 0;
    for (const svg of row) {
      const size = svgSize(svg);
      placed.push(svg.replace('<svg ', `<svg x="${x}" y="${y}" `));
      x += size.width + gap;
      rowHeight = Math.max(rowHeight, size.height);
    }
    width = Math.max(width, x - gap);
    y += rowHeight + gap;
  }
  const height = Math.max(headingHeight, y - gap);
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}">` +
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#fff"/>${text(10, 21, heading, 'font-size="15" fill="#222"')}${placed.join('')}</svg>`
  );
}
