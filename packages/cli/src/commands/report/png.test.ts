import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { curvesSvg } from './report-html.js';
import { parseRunMetrics } from './run-metrics.js';
import { pngSize, svgToPng } from './png.js';
import { demoMetricsText } from './testdata/fixtures.js';

describe('svgToPng', () => {
  it('renders the curves of a real run to a PNG of twice the drawing size', async () => {
    const svg = curvesSvg(parseRunMetrics(demoMetricsText, 'metrics.json'));
    const [, width, height] = /^<svg [^>]*width="(\d+)" height="(\d+)"/.exec(svg)!;
    const image = await svgToPng(svg);
    assert.deepEqual(pngSize(image.png), { width: 2 * Number(width), height: 2 * Number(height) });
    assert.deepEqual({ width: image.width, height: image.height }, pngSize(image.png));
    // Three charts with text are far from a blank image, which compresses to a few KiB.
    assert.ok(image.png.length > 30_000, `${image.png.length} bytes`);
  });

  it('reads a PNG size from its header and refuses other bytes', () => {
    assert.equal(pngSize(Buffer.from('<svg/>')), undefined);
  });
});
