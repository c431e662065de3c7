import { stat } from 'node:fs/promises';
import { z } from 'zod';
import { MetricsFileError, parseEvaluation, parseRunMetrics, type Evaluation, type RunMetrics } from './run-metrics.js';

/** A finished run as the report needs it: its metrics, where they came from, and class names if the model has them. */
export interface LoadedRun {
  metrics: RunMetrics;
  source: string;
  labels?: string[];
}

const LabelsSchema = z.array(z.string());

const hasScheme = (location: string): boolean => /^[a-z][a-z0-9+.-]*:\/\//i.test(location);

/**
 * Reads metrics.json from a run's output: a local directory, any store URI (s3://…, file://…, http(s)://…), or
 * the metrics.json file itself. The model's labels.json beside it names the classes of older runs whose
 * metrics.json has no plan; it is optional.
 */
export async function readRun(location: string): Promise<LoadedRun> {
  const { openStore, readObject, isNotFound } = await import('@ringtrain/dataset');
  const isFile = /\.json$/i.test(location);
  const base = isFile ? location.replace(/\/[^/]*$/, '') : location.replace(/\/+$/, '');
  const source = isFile ? location : `${base}/metrics.json`;
  if (!hasScheme(location) && !isFile) {
    const info = await stat(location).catch(() => undefined);
    if (info === undefined) throw new MetricsFileError(`${location}: no such directory; give a run's --out directory (e.g. runs/demo), its metrics.json, or an s3://bucket/prefix URI`);
  }
  let text: string;
  try {
    text = (isFile ? await readObject(location) : await openStore(base).get('metrics.json')).toString('utf8');
  } catch (error) {
    if (isNotFound(error)) {
      throw new MetricsFileError(
        `${source} does not exist: metrics.json is written when a run ends (succeeded, failed or stopped); ` +
          'wait for the run to finish, continue a stopped one with `ringtrain train --resume --out <dir>`, or check the path',
      );
    }
    throw new MetricsFileError(`cannot read ${source}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const metrics = parseRunMetrics(text, source);
  const labels = metrics.plan === undefined ? await readLabels(base) : undefined;
  return { metrics, source, ...(labels !== undefined ? { labels } : {}) };
}

async function readLabels(base: string): Promise<string[] | undefined> {
  const { openStore } = await import('@ringtrain/dataset');
  try {
    const parsed = LabelsSchema.safeParse(JSON.parse((await openStore(base).get('model/labels.json')).toString('utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    // Only names for the confusion matrix's rows: without them the classes are numbered.
    return undefined;
  }
}

/** Reads the JSON that `ringtrain eval --out` wrote, from a path or store URI. */
export async function readEvaluation(location: string): Promise<Evaluation> {
  const { readObject, isNotFound } = await import('@ringtrain/dataset');
  let text: string;
  try {
    text = (await readObject(location)).toString('utf8');
  } catch (error) {
    if (isNotFound(error)) throw new MetricsFileError(`--eval ${location} does not exist: write it with \`ringtrain eval <run> --out ${location}\``);
    throw new MetricsFileError(`cannot read --eval ${location}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return parseEvaluation(text, location);
}
