import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { ExitError } from '../../errors.js';
import { parseOptions } from '../../options.js';
import { readEvaluation, readRun } from './read-run.js';
import { curvesSvg, plural, renderReportHtml } from './report-html.js';
import { MetricsFileError } from './run-metrics.js';
import { svgToPng } from './png.js';

const schema = z.object({
  out: z.string().min(1),
  png: z.string().min(1).optional(),
  eval: z.string().min(1).optional(),
  json: z.boolean().default(false)
});

export async function runReport(location: string, raw: Record<string, unknown>): Promise<void> {
  const options = parseOptions(schema, raw);
  let run;
  let evaluation;
  try {
    run = await readRun(location);
    evaluation = options.eval !== undefined ? await readEvaluation(options.eval) : undefined;
  } catch (error) {
    if (error instanceof MetricsFileError) throw new ExitError(1, error.message);
    throw error;
  }
  const html = renderReportHtml({
    metrics: run.metrics,
    source: run.source,
    generatedAt: new Date(),
    ...(evaluation !== undefined ? { evaluation } : {})
  });
  const out = path.resolve(options.out);
  await mkdir(path.dirname(out), { recursive: true });
  await writeFile(out, html);
  let png: { file: string; width: number; height: number } | undefined;
  if (options.png !== undefined) {
    const image = await svgToPng(curvesSvg(run.metrics));
    const file = path.resolve(options.png);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, image.png);
    png = { file, width: image.width, height: image.height };
  }
  if (options.json) {
    process.stdout.write(
      `${JSON.stringify({ runId: run.metrics.runId, source: run.source, html: out, png: png?.file ?? null, epochs: run.metrics.epochs.length, valAccuracy: run.metrics.final.valAccuracy })}\n`
    );
    return;
  }
  process.stdout.write(
    `report of ${run.metrics.runId} (${run.metrics.state}, ${plural(run.metrics.epochs.length, 'epoch')}) written to ${out}\n`
  );
  if (png !== undefined) process.stdout.write(`curves written to ${png.file} (${png.width}×${png.height} PNG)\n`);
}
