// The operator's HTTP endpoints: GET /health for load balancers and probes, GET /metrics for Prometheus, and the
// call API under /v1/ when one is given.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface HttpOptions {
  readonly host: string;
  readonly port: number;
  readonly registry: Registry;
  /** The body of /health: 200 when its status is `ok`, else 503. */
  readonly health: () => { readonly status: 'ok' | 'draining' | 'down'; readonly [key: string]: unknown };
  /** Takes the requests it answers (true), e.g. the call API. */
  readonly api?: { handle(req: http.IncomingMessage, res: http.ServerResponse, path: string): boolean };
}

export interface HttpServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startHttpServer(options: HttpOptions): Promise<HttpServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (options.api?.handle(req, res, path)) return;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
    } else if (path === '/health') {
      const health = options.health();
      res.writeHead(health.status === 'ok' ? 200 : 503, { 'Content-Type': 'application/json' }).end(JSON.stringify(health));
    } else if (path === '/metrics') {
      options.registry.metrics().then(
        (text) => res.writeHead(200, { 'Content-Type': options.registry.contentType }).end(text),
        (err: Error) => res.writeHead(500).end(err.message),
      );
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
