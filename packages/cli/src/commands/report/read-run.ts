import { stat } from 'node:fs/promises';
import { MetricsFileError, parseEvaluation, parseRunMetrics, type Evaluation, type RunMetrics } from './run-metrics.js';

/** A finished run as the report needs it: its metrics and where they came from. */
export interface LoadedRun {
  metrics: RunMetrics;
  source: string;
}

const hasScheme = (location: string): boolean => /^[a-z][a-z0-9+.-]*:\/\//i.test(location);

/**
 * Reads metrics.json from a run's output: a local directory, any store URI (s3://…, file://…, http(s)://…), or
 * the metrics.json file itself.
 */
export async function readRun(location: string): Promise<LoadedRun> {
  const { openStore, readObject, isNotFound } = await import('@ringtrain/dataset');
  const isFile = /\.json$/i.test(location);
  const base = location.replace(/\/+$/, '');
  const source = isFile ? location : `${base}/metrics.json`;
  if (!hasScheme(location) && !isFile) {
    const info = await stat(location).catch(() => undefined);
    if (info === undefined)
      throw new MetricsFileError(
        `${location}: no such directory; give a run's --out directory (e.g. runs/demo), its metrics.json, or an s3://bucket/prefix URI`
      );
  }
  let text: string;
  try {
    text = (isFile ? await readObject(location) : await openStore(base).get('metrics.json')).toString('utf8');
  } catch (error) {
    if (isNotFound(error)) {
      throw new MetricsFileError(
        `${source} does not exist: metrics.json is written when a run ends (succeeded, failed or stopped); ` +
          'wait for the run to finish, continue a stopped one with `ringtrain train --resume --out <dir>`, or check the path'
      );
    }
    throw new MetricsFileError(`cannot read ${source}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return { metrics: parseRunMetrics(text, source), source };
}

/** Reads the JSON that `ringtrain eval --out` wrote, from a path or store URI. */
export async function readEvaluation(location: string): Promise<Evaluation> {
  const { readObject, isNotFound } = await import('@ringtrain/dataset');
  let text: string;
  try {
    text = (await readObject(location)).toString('utf8');
  } catch (error) {
    if (isNotFound(error))
      throw new MetricsFileError(
        `--eval ${location} does not exist: write it with \`ringtrain eval <run> --out ${location}\``
      );
    throw new MetricsFileError(
      `cannot read --eval ${location}: ${error instanceof Error ? error.message : String(error)}`
    );
  }
  return parseEvaluation(text, location);
}
