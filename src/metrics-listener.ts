import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ListenError } from './listeners/listen-error.js';
import type { Metrics } from './metrics.js';

/**
 * `metrics: {host, port}`: GET /metrics on a port of its own, so a relay with the web UI off
 * (production) can be scraped, and the UI's port need not be exposed to Prometheus. Plain
 * node:http: a scrape endpoint needs no framework.
 */
export class MetricsListener {
  private readonly server: Server;

  constructor(
    private readonly metrics: Metrics,
    private readonly host: string,
    private readonly configuredPort: number,
  ) {
    this.server = createServer((request, response) => {
      const path = (request.url ?? '/').split('?')[0];
      if (path !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD')) {
        response.writeHead(path === '/metrics' ? 405 : 404, { 'content-type': 'text/plain' });
        response.end(path === '/metrics' ? 'GET only\n' : 'not found: metrics are at /metrics\n');
        return;
      }
      this.metrics.text().then(
        (text) => {
          response.writeHead(200, { 'content-type': this.metrics.registry.contentType });
          response.end(request.method === 'HEAD' ? undefined : text);
        },
        (error: unknown) => {
          response.writeHead(500, { 'content-type': 'text/plain' });
          response.end(`metrics failed: ${String(error)}\n`);
        },
      );
    });
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const failed = (error: NodeJS.ErrnoException): void => {
        const where = `metrics (${this.host}:${String(this.configuredPort)})`;
        if (error.code === 'EADDRINUSE') {
          reject(
            new ListenError(
              `${where}: the port is already in use; stop the other server or change metrics.port`,
            ),
          );
        } else if (error.code === 'EACCES') {
          reject(new ListenError(`${where}: no permission to bind; use a port above 1023`));
        } else reject(error);
      };
      this.server.once('error', failed);
      this.server.listen(this.configuredPort, this.host, () => {
        this.server.off('error', failed);
        resolve();
      });
    });
  }

  port(): number {
    const address = this.server.address() as AddressInfo | null;
    return address?.port ?? 0;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }
}
