/**
 * `host:port` as URLs, gRPC targets and `listen` error messages need it: an IPv6 literal is bracketed
 * (`[::1]:50051`), since its own colons would otherwise run into the port's. Names and IPv4 addresses, and a
 * literal that is already bracketed, are left as they are.
 */
export function formatHostPort(host: string, port: number | string): string {
  const bracketed = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `${bracketed}:${port}`;
}
