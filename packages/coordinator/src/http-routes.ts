import http from 'node:http';
import https from 'node:https';
import { formatHostPort, sameSecret, type RunIdentityPems } from '@ringtrain/proto';
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

/**
 * Whether a request may read the run: with `token` set, it must present it as a bearer token, except for
 * `/healthz` (the kubelet's probe, which says nothing about the run). Without, anything that reaches the port
 * may (a laptop's loopback, or the pod's own loopback that only a `kubectl port-forward` reaches).
 */
function admitted(request: http.IncomingMessage, token: string | undefined): boolean {
  if (token === undefined) return true;
  if ((request.url ?? '/').split('?')[0] === '/healthz') return true;
  const presented = request.headers.authorization ?? '';
  return presented.startsWith('Bearer ') && sameSecret(presented.slice('Bearer '.length), token);
}

/** Where and how the coordinator serves HTTP. */
export interface HttpListenOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** The run's identity: HTTPS with its certificate, and every path but /healthz asks for `token`. */
  tls?: RunIdentityPems;
  token?: string;
}

export type HttpServer = http.Server | https.Server;

/** Listens with `route` behind the token check; resolves with the server and its `http(s)://` address. */
export async function listenHttp(
  options: HttpListenOptions,
  route: (request: http.IncomingMessage, response: http.ServerResponse) => void
): Promise<{ server: HttpServer; address: string }> {
  const token = options.tls === undefined ? undefined : options.token;
  const handle = (request: http.IncomingMessage, response: http.ServerResponse): void => {
    if (admitted(request, token)) route(request, response);
    else
      response
        .writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer' })
        .end(
          `unauthorized: present the run's token (Secret <run>-token, key token) as 'Authorization: Bearer <token>', or open the dashboard on the coordinator's local port ${LOCAL_HTTP_PORT} through kubectl port-forward\n`
        );
  };
  const server =
    options.tls === undefined
      ? http.createServer(handle)
      : https.createServer({ cert: options.tls.certificate, key: options.tls.privateKey }, handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new Error(`the coordinator's HTTP server cannot listen: ${error.message}`)));
    server.listen(options.port, options.host, () => resolve());
  });
  const bound = server.address();
  return {
    server,
    address: `${options.tls === undefined ? 'http' : 'https'}://${formatHostPort(options.host, typeof bound === 'object' && bound !== null ? bound.port : 0)}`
  };
}

/**
 * The port a coordinator with a TLS identity also serves plain HTTP on, on its loopback only, with no token: what
 * `kubectl port-forward pod/<run>-coordinator 8090` reaches (a person's browser knows neither the run's CA nor its
 * token), and nothing else can, since no other pod reaches a pod's loopback.
 */
export const LOCAL_HTTP_PORT = 8090;

/** Serves the dashboard, /status, /healthz and /metrics (see listenHttp). */
export function startHttpServer(
  options: HttpListenOptions & { sources: HttpSources }
): Promise<{ server: HttpServer; address: string }> {
  return listenHttp(options, (request, response) => void routeHttp(options.sources, request, response));
}

export function stopHttpServer(server: HttpServer): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}
