import type { Command } from 'commander';

/** `ringtrain report <run>`: a finished run as one self-contained HTML page, and its curves as a PNG. */
export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description(
      "turn a finished run's metrics.json into a self-contained HTML report (curves, plan, time, restarts, confusion matrix)"
    )
    .argument('<run>', "the run's output: a directory (runs/demo), a store URI (s3://bucket/run), or its metrics.json")
    .option('--out <file>', 'where the HTML report goes', 'report.html')
    .option('--png <file>', 'also render the loss, accuracy and throughput curves to this PNG')
    .option(
      '--eval <file>',
      'add the confusion matrix of `ringtrain eval --out <file>` (instead of the last validation)'
    )
    .option('--json', 'print what was written as one JSON object on stdout')
    .action(async (run: string, raw: Record<string, unknown>) => {
      const { runReport } = await import('./run.js');
      await runReport(run, raw);
    });
}
