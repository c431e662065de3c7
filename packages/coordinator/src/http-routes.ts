import http from 'node:http';
import { formatHostPort } from '@ringtrain/proto';
import { isDashboardPath, serveDashboard, type DashboardSource } from './dashboard/dashboard.js';
import type { CoordinatorMetrics } from './metrics.js';

/** What the coordinator's HTTP port serves: the dashboard at `/`, `/status`, `/healthz` and `/metrics`. */
export interface HttpSources extends DashboardSource {
  readonly metrics: CoordinatorMetrics;
}

export async function routeHttp(
  sources: HttpSources,
  request: http.IncomingMessage,
  response: http.ServerResponse
): Promise<void> {
  const path = (request.url ?? '/').split('?')[0] ?? '/';
  if (isDashboardPath(path)) {
    await serveDashboard(new URL(request.url ?? '/', 'http://coordinator'), response, sources).catch(
      (error: unknown) => {
        if (!response.headersSent)
          response.writeHead(500, { 'content-type': 'text/plain' }).end(`dashboard error: ${String(error)}\n`);
      }
    );
  } else if (path === '/healthz') {
    response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
  } else if (path === '/status') {
    response.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify(sources.status())}\n`);
  } else if (path === '/metrics') {
    const body = await sources.metrics.registry.metrics();
    response.writeHead(200, { 'content-type': sources.metrics.registry.contentType }).end(body);
  } else {
    response
      .writeHead(404, { 'content-type': 'text/plain' })
      .end('not found: try / (the dashboard), /status, /healthz or /metrics\n');
  }
}

/** Serves `sources` on host:port (0: a free port); resolves with the server and its `http://` address. */
export async function startHttpServer(options: {
  host: string;
  port: number;
  sources: HttpSources;
}): Promise<{ server: http.Server; address: string }> {
  const server = http.createServer((request, response) => void routeHttp(options.sources, request, response));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new Error(`the coordinator's HTTP server cannot listen: ${error.message}`)));
    server.listen(options.port, options.host, () => resolve());
  });
  const bound = server.address();
  return {
    server,
    address: `http://${formatHostPort(options.host, typeof bound === 'object' && bound !== null ? bound.port : 0)}`
  };
}

export function stopHttpServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}
