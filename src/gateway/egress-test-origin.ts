// Test support for egress through the gateway: a loopback origin that records what reached it, names mapped
// to addresses without DNS, and raw bytes on a gateway socket.
import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import type { ResolvedAddress } from '../policy/destination.ts';

export interface Origin {
  port: number;
  seen: { method: string; url: string; headers: http.IncomingHttpHeaders; bodyHash: string; bytes: number }[];
  close(): Promise<void>;
}

/** A loopback origin: /redirect answers 302 to `redirectTo`, everything else echoes what it received. */
export async function startOrigin(redirectTo = ''): Promise<Origin> {
  const seen: Origin['seen'] = [];
  const server = http.createServer((req, res) => {
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      hash.update(c);
      bytes += c.length;
    });
    req.on('end', () => {
      const entry = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        bodyHash: hash.digest('hex'),
        bytes,
      };
      seen.push(entry);
      if (req.url === '/redirect') {
        res.writeHead(302, { location: redirectTo }).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'x-origin': 'yes' });
      res.end(JSON.stringify({ method: entry.method, url: entry.url, bytes, hash: entry.bodyHash }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return { port: address.port, seen, close: () => new Promise((r) => server.close(() => r())) };
}

/** Names for tests, mapped without DNS: nothing here ever resolves a real name. */
const names: Record<string, ResolvedAddress[]> = {
  'loop.test': [{ address: '127.0.0.1', family: 4 }],
  'mixed.test': [
    { address: '93.184.215.14', family: 4 },
    { address: '127.0.0.1', family: 4 },
  ],
};
export const resolve = (host: string): Promise<ResolvedAddress[]> => Promise.resolve(names[host] ?? []);

/** Raw bytes on a gateway socket; resolves with everything received until the gateway closes (or waitMs). */
export function rawOn(socketPath: string, bytes: string | Buffer[], waitMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect(socketPath, () => {
      for (const b of typeof bytes === 'string' ? [bytes] : bytes) s.write(b);
    });
    const timer = setTimeout(() => s.destroy(), waitMs);
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString());
    });
    s.on('error', reject);
  });
}
