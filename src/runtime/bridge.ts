// The in-sandbox face of the gateway: a loopback TCP listener that pipes every connection to a fresh connection
// on the gateway's Unix socket, so ordinary HTTP(S)_PROXY clients can reach it.
import { createConnection, createServer } from 'node:net';
import type { Socket } from 'node:net';

export interface Bridge {
  port: number;
  close(): Promise<void>;
}

export async function startBridge(gatewaySocket: string, onError: (msg: string) => void): Promise<Bridge> {
  const open = new Set<Socket>();
  // Half-open allowed on both sides: a client that shuts down its writing side still gets the whole answer.
  // noDelay: without it Nagle and delayed ACKs hold the tail of each streamed answer for ~40 ms.
  const server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    const upstream = createConnection({ path: gatewaySocket, allowHalfOpen: true });
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('close', () => open.delete(s));
    }
    client.pipe(upstream);
    upstream.pipe(client);
    // Either side failing ends both: a half-open proxied connection only makes the client wait.
    client.on('error', () => upstream.destroy());
    upstream.on('error', (err) => {
      onError(`gateway socket ${gatewaySocket}: ${err.message}`);
      client.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('bridge listener has no TCP port');
  return {
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}
