// The floor for the gateway bench: the least a forward proxy written in Node can do per request (parse the
// absolute-form URL, forward over a keep-alive pool, stream both bodies back) with no policy, audit, metering or
// header hygiene. Measured in the same run as the gateway, it shows how much of the gateway's cost is Node's
// HTTP machinery itself and how much is corral's own work.
import fs from 'node:fs';
import http from 'node:http';

export async function startBareProxy(socketPath: string): Promise<{ close(): Promise<void> }> {
  const pool = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const server = http.createServer((req, res) => {
    let target: URL;
    try {
      target = new URL(req.url ?? '');
    } catch {
      res.writeHead(400).end();
      return;
    }
    const upstream = http.request(
      {
        host: target.hostname,
        port: target.port,
        path: `${target.pathname}${target.search}`,
        method: req.method,
        headers: req.headers,
        agent: pool,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  fs.rmSync(socketPath, { force: true });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return {
    close: () =>
      new Promise((resolve) => {
        pool.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
