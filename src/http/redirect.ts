import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';

// A host name or an IPv4/IPv6 literal, with an optional port; anything else is not echoed back.
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

/**
 * The plain-HTTP listener of a box that serves HTTPS: every request, API or not, gets a 301 to
 * the same path on HTTPS and no content, so nothing (least of all a session cookie) travels in
 * the clear. A Host header that is not a plain host name falls back to the address dialled.
 */
export async function serveRedirect(o: { host: string; port: number; httpsPort: number }): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const sent = req.headers.host ?? '';
    const local = req.socket.localAddress ?? o.host;
    let host = HOST.test(sent) ? sent.replace(/:\d+$/, '') : local.includes(':') ? `[${local.replace(/^::ffff:/, '')}]` : local;
    if (host.startsWith('[::ffff:') && /\d+\.\d+\.\d+\.\d+\]$/.test(host)) host = host.slice(8, -1);
    const port = o.httpsPort === 443 ? '' : `:${o.httpsPort}`;
    const path = (req.url ?? '/').startsWith('/') ? req.url! : '/';
    res.writeHead(301, {
      location: `https://${host}${port}${path}`,
      'content-length': '0',
      'cache-control': 'no-store',
      connection: 'close',
    });
    res.end();
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  server.listen({ host: o.host, port: o.port });
  await Promise.race([once(server, 'listening'), once(server, 'error').then(([e]) => { throw e; })]);
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }),
  };
}
