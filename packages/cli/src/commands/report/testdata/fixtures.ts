import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The output directory of a real `npm start` run (the digits demo: 2 workers, 4 epochs, 90% validation accuracy). */
export const demoRunDir = fileURLToPath(new URL('./demo-run', import.meta.url));

/** That run's metrics.json exactly as the coordinator wrote it: no plan and no confusion matrix (older format). */
export const demoMetricsText = readFileSync(new URL('./demo-run/metrics.json', import.meta.url), 'utf8');

export const demoMetricsJson = (): Record<string, unknown> => JSON.parse(demoMetricsText) as Record<string, unknown>;

/** A real 1-epoch demo run at 16 px in the current format, with what `ringtrain eval <run> --out eval.json` wrote for it. */
export const tinyRunDir = fileURLToPath(new URL('./tiny-run', import.meta.url));

/** A class name that must never reach the page unescaped. */
export const EVIL_CLASS = `<img src=x onerror="alert(1)">&'`;

/**
 * A real metrics.json of the current format (a 1-epoch demo run at 16 px): the run plan, per-step points, each
 * rank's step split and the last validation's confusion matrix. The last class is renamed to a hostile string to
 * prove escaping.
 */
export function tinyRunWithPlan(): Record<string, unknown> {
  const metrics = JSON.parse(readFileSync(new URL('./tiny-run/metrics.json', import.meta.url), 'utf8')) as {
    plan: { dataset: { classes: string[] } };
    validation: { classes: string[] };
  };
  metrics.plan.dataset.classes[9] = EVIL_CLASS;
  metrics.validation.classes[9] = EVIL_CLASS;
  return metrics;
}
