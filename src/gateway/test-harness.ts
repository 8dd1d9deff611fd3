// Test support for the gateway: a real gateway on a Unix socket in a temp dir, recorded side effects, a raw
// client over the socket, and a loopback TCP→socket pipe so the official SDKs (which speak TCP) can reach it.
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger } from '../util/log.ts';
import { createGateway } from './gateway.ts';
import type { Gateway, GatewayDeps, GatewayEndpoint, ProviderRoute } from './types.ts';

type UsageEvent = Parameters<GatewayDeps['onUsage']>[0];
type AuditEvent = Parameters<GatewayDeps['audit']>[0];

export interface Harness {
  dir: string;
  gateway: Gateway;
  endpoint: GatewayEndpoint;
  providers: Map<string, ProviderRoute>;
  secrets: Map<string, string>;
  usage: UsageEvent[];
  audit: AuditEvent[];
  logs: string[];
  close(): Promise<void>;
}

/** `extra` adds or overrides gateway dependencies (egress policy, timeouts) for one test file. */
export async function startHarness(extra: Partial<GatewayDeps> = {}): Promise<Harness> {
  const dir = await mkdtemp(path.join(tmpdir(), 'corral-gw-'));
  const providers = new Map<string, ProviderRoute>();
  const secrets = new Map<string, string>();
  const usage: UsageEvent[] = [];
  const audit: AuditEvent[] = [];
  const logs: string[] = [];
  const gateway = createGateway({
    providers: () => providers,
    readSecret: (name) => secrets.get(name),
    onUsage: (u) => void usage.push(u),
    audit: (e) => void audit.push(e),
    log: createLogger({ level: 'debug', write: (line) => logs.push(line) }),
    ...extra,
  });
  const endpoint = await gateway.attach({
    agent: 'alice',
    sandboxId: 'sb-1',
    socketPath: path.join(dir, 'gw.sock'),
  });
  return {
    dir,
    gateway,
    endpoint,
    providers,
    secrets,
    usage,
    audit,
    logs,
    close: async () => {
      await gateway.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** What the runtime does inside a sandbox: a loopback port piped to the gateway socket. */
export async function startBridge(socketPath: string): Promise<{ port: number; close(): Promise<void> }> {
  const conns = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(socketPath);
    conns.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      conns.delete(client);
      conns.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('bridge has no TCP address');
  return {
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of conns) c.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One HTTP request over the gateway socket, as a sandbox process would send it. */
export function request(
  socketPath: string,
  opts: { method: string; path: string; headers?: Record<string, string | number>; body?: string | Buffer },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { socketPath, method: opts.method, path: opts.path, headers: opts.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** A loopback TCP port with nothing listening on it: the "provider is down" case without leaving the host. */
export async function unusedLoopbackPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return address.port;
}
