import { readFile } from 'node:fs/promises';
import type http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ValidationByClass } from '@ringtrain/protocol';
import type { RunStatus } from '../records.js';
import { renderRunPlan, type RunPlan } from '../run-plan.js';
import type { RankStepTimes, RunTimeline, StepPoint } from '../run-timeline.js';

/** What the page's poll of `dashboard/data.json` gets besides /status. */
export interface DashboardData {
  plan: RunPlan | null;
  planText: string | null;
  steps: { version: number; reset: boolean; points: StepPoint[] };
  rankTimes: { last: RankStepTimes[]; mean: RankStepTimes[] };
  validation: ValidationByClass | null;
}

export interface DashboardSource {
  status(): RunStatus;
  readonly timeline: RunTimeline;
}

// From the package's root, so that dist/dashboard/dashboard.js (built) finds the page as src/dashboard/ does.
const STATIC_DIR = fileURLToPath(new URL('../../src/dashboard/static/', import.meta.url));
// uPlot is served from node_modules as published: no CDN, no bundler, so the page works offline and in a pod.
const UPLOT_DIR = path.join(path.dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist');

const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: path.join(STATIC_DIR, 'index.html'), type: 'text/html; charset=utf-8' },
  '/index.html': { file: path.join(STATIC_DIR, 'index.html'), type: 'text/html; charset=utf-8' },
  '/dashboard/app.js': { file: path.join(STATIC_DIR, 'app.js'), type: 'text/javascript; charset=utf-8' },
  '/dashboard/app.css': { file: path.join(STATIC_DIR, 'app.css'), type: 'text/css; charset=utf-8' },
  '/dashboard/uplot.min.js': {
    file: path.join(UPLOT_DIR, 'uPlot.iife.min.js'),
    type: 'text/javascript; charset=utf-8'
  },
  '/dashboard/uplot.min.css': { file: path.join(UPLOT_DIR, 'uPlot.min.css'), type: 'text/css; charset=utf-8' }
};

// The page only talks to its own origin; class names and reasons come from users' data and are set as text.
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
  'x-content-type-options': 'nosniff'
} as const;

const cache = new Map<string, Buffer>();

/** True for the paths the dashboard serves: the page at `/` and everything under `/dashboard/`. */
export function isDashboardPath(pathname: string): boolean {
  return pathname === '/' || pathname === '/index.html' || pathname.startsWith('/dashboard/');
}

function integer(value: string | null, fallback: number): number {
  const parsed = Number(value);
  return value !== null && Number.isSafeInteger(parsed) ? parsed : fallback;
}

/** The JSON the page polls: the plan, the step points it lacks, each rank's time split, the validation by class. */
export function dashboardData(source: DashboardSource, version: number, afterStep: number): DashboardData {
  const plan = source.timeline.plan();
  return {
    plan,
    planText: plan === null ? null : renderRunPlan(plan),
    steps: source.timeline.stepsSince(version, afterStep),
    rankTimes: source.timeline.rankTimes(),
    validation: source.timeline.validation()
  };
}

/** Serves the live dashboard: the static page, uPlot, and `dashboard/data.json`. */
export async function serveDashboard(url: URL, response: http.ServerResponse, source: DashboardSource): Promise<void> {
  if (url.pathname === '/dashboard/data.json') {
    source.timeline.watchedAt = Date.now();
    const data = dashboardData(
      source,
      integer(url.searchParams.get('version'), -1),
      integer(url.searchParams.get('after'), -1)
    );
    response
      .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store', ...SECURITY_HEADERS })
      .end(JSON.stringify(data));
    return;
  }
  const asset = ASSETS[url.pathname];
  if (asset === undefined) {
    response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: the dashboard is at /\n');
    return;
  }
  let body = cache.get(asset.file);
  if (body === undefined) {
    body = await readFile(asset.file);
    cache.set(asset.file, body);
  }
  response.writeHead(200, { 'content-type': asset.type, 'cache-control': 'no-cache', ...SECURITY_HEADERS }).end(body);
}
