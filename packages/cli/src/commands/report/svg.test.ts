import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  confusionHeatmap,
  escapeXml,
  formatSeconds,
  formatTick,
  integerTicks,
  grid,
  lineChart,
  linearScale,
  niceTicks,
  truncate
} from './svg.js';

const EVIL = `<script>alert("x")</script> & 'cats'`;

describe('escapeXml', () => {
  it('escapes the five XML specials so user text can never open a tag or end an attribute', () => {
    assert.equal(escapeXml(EVIL), '&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#38; &#39;cats&#39;');
    assert.equal(escapeXml('golden retriever'), 'golden retriever');
  });
});

describe('linearScale', () => {
  it('maps the domain onto the range, inverted ranges included (SVG y grows downwards)', () => {
    const y = linearScale([0, 1], [200, 0]);
    assert.equal(y(0), 200);
    assert.equal(y(1), 0);
    assert.equal(y(0.25), 150);
  });
  it('maps a zero-width domain to the middle of the range instead of dividing by zero', () => {
    assert.equal(linearScale([3, 3], [0, 100])(3), 50);
  });
});

describe('niceTicks', () => {
  it('covers the data with round 1/2/5 steps', () => {
    assert.deepEqual(niceTicks(0, 2.0458), [0, 0.5, 1, 1.5, 2, 2.5]);
    assert.deepEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
    assert.deepEqual(niceTicks(0, 28.3), [0, 10, 20, 30]);
    assert.deepEqual(niceTicks(0.001, 0.0042), [0.001, 0.002, 0.003, 0.004, 0.005]);
  });
  it('always brackets the range, for any range', () => {
    for (const [min, max] of [
      [0, 7.3],
      [-3.2, 4.1],
      [12, 13],
      [0, 1e-7],
      [990, 1010],
      [0, 123_456]
    ] as const) {
      const ticks = niceTicks(min, max);
      assert.ok(ticks[0]! <= min && ticks.at(-1)! >= max, `[${min}, ${max}] → ${ticks.join(', ')}`);
      assert.ok(ticks.length >= 2 && ticks.length <= 12, `[${min}, ${max}] → ${ticks.length} ticks`);
    }
  });
  it('widens a flat series so it still gets an axis', () => {
    assert.deepEqual(niceTicks(0, 0), [-1, -0.5, 0, 0.5, 1]);
    const ticks = niceTicks(0.9, 0.9);
    assert.ok(ticks[0]! < 0.9 && ticks.at(-1)! > 0.9);
  });
  it('refuses a non-finite range rather than looping', () => {
    assert.throws(() => niceTicks(0, Number.POSITIVE_INFINITY), /not finite/);
  });
});

describe('integerTicks and labels', () => {
  it('labels every epoch of a short run and thins a long one', () => {
    assert.deepEqual(integerTicks(1, 4), [1, 2, 3, 4]);
    assert.deepEqual(integerTicks(1, 100).length, 10);
  });
  it('formats ticks without binary noise or needless exponents', () => {
    assert.equal(formatTick(0.30000000000000004), '0.3');
    assert.equal(formatTick(1500), '1500');
    assert.equal(formatTick(0.0001), '1e-4');
  });
  it('formats durations as people read them', () => {
    assert.equal(formatSeconds(4.25), '4.3 s');
    assert.equal(formatSeconds(80.148), '80 s');
    assert.equal(formatSeconds(245), '4 min 05 s');
    assert.equal(formatSeconds(3 * 3600 + 120), '3 h 02 min');
  });
  it('truncates long labels by characters, not UTF-16 units', () => {
    assert.equal(truncate('golden retriever', 8), 'golden …');
    assert.equal(truncate('🐕🐕🐕🐕', 3), '🐕🐕…');
    assert.equal(truncate('cat', 8), 'cat');
  });
});

describe('lineChart', () => {
  const chart = lineChart({
    title: `loss of ${EVIL}`,
    xLabel: 'epoch',
    series: [
      {
        name: EVIL,
        color: '#123456',
        points: [
          { x: 1, y: 2 },
          { x: 2, y: 1 },
          { x: 3, y: null },
          { x: 4, y: 0.5 },
          { x: 5, y: 0.4 }
        ]
      }
    ]
  });
  it('is one well-formed SVG document with its texts escaped', () => {
    assert.match(chart, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="480" height="300"/);
    assert.ok(chart.endsWith('</svg>'));
    assert.ok(!chart.includes('<script>'), 'a series name cannot inject a tag');
    assert.ok(chart.includes('&#60;script&#62;'));
  });
  it('breaks the line at a missing (diverged) value and marks every present point', () => {
    assert.equal(chart.match(/<polyline /g)?.length, 2);
    assert.equal(chart.match(/<circle /g)?.length, 4);
  });
  it('draws thousands of steps as a line with round step ticks and no markers', () => {
    const steps = lineChart({
      title: 't',
      xLabel: 'step',
      xTicks: 'nice',
      series: [
        { name: 's', color: '#000', points: Array.from({ length: 2000 }, (_, i) => ({ x: i + 1, y: 1 / (i + 1) })) }
      ]
    });
    assert.equal(steps.match(/<circle /g), null);
    const labels = [...steps.matchAll(/text-anchor="middle" fill="#555">(\d+)<\/text>/g)].map((match) => match[1]);
    assert.deepEqual(labels, ['500', '1000', '1500', '2000']);
  });
  it('draws a single-epoch run as a marker on a usable axis', () => {
    const single = lineChart({
      title: 't',
      xLabel: 'epoch',
      series: [{ name: 's', color: '#000', points: [{ x: 1, y: 0.7 }] }]
    });
    assert.equal(single.match(/<circle /g)?.length, 1);
    assert.ok(!single.includes('NaN'));
  });
});

describe('confusionHeatmap', () => {
  it('draws n × n cells, escapes and truncates class names, and writes the counts', () => {
    const svg = confusionHeatmap({
      classes: ['cat', EVIL, 'a-very-long-class-name-indeed'],
      counts: [
        [5, 1, 0],
        [0, 6, 0],
        [2, 0, 4]
      ]
    });
    assert.equal(svg.match(/<rect x="\d+" y="\d+" width="36" height="36"/g)?.length, 9);
    assert.ok(!svg.includes('<script>'));
    assert.ok(svg.includes('a-very-long-cla…'));
    assert.ok(svg.includes('>6</text>'));
  });
});

describe('grid', () => {
  it('lays charts out in rows under a heading, sized to hold them all', () => {
    const a = lineChart({ title: 'a', xLabel: 'x', width: 300, height: 200, series: [] });
    const b = lineChart({ title: 'b', xLabel: 'x', width: 200, height: 250, series: [] });
    const c = lineChart({ title: 'c', xLabel: 'x', width: 600, height: 100, series: [] });
    const all = grid('run <1>', [[a, b], [c]], 10);
    assert.match(all, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="600" height="390"/);
    assert.ok(all.includes('<svg x="310" y="30" '));
    assert.ok(all.includes('<svg x="0" y="290" '));
    assert.ok(all.includes('run &#60;1&#62;'));
  });
});
