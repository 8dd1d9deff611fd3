// createGateway: one HTTP server per sandbox, each on its own Unix socket; the socket is the sandbox's identity,
// so the agent is fixed at attach time and nothing in a request can claim another.
import { createServer } from 'node:http';
import type { Agent, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { CorralError, errorMessage } from '../util/errors.ts';
import { forwardModelCall, resolveModelRoute } from './model-route.ts';
import { handleConnect, handleProxyRequest, handleStrayRequest } from './proxy.ts';
import { checkSocketPath, removeSocket, restrictSocket } from './socket-file.ts';
import type { AttachOptions, Gateway, GatewayDeps, GatewayEndpoint } from './types.ts';
import { createUpstreamPool } from './upstream-pool.ts';
import { UPSTREAM_IDLE_TIMEOUT_MS } from './upstream.ts';

/** Request line plus headers; model calls need a few KiB at most. */
export const MAX_HEADER_BYTES = 16 * 1024;
export const HEADERS_TIMEOUT_MS = 30_000;
/** Receiving a whole request, body included (bodies are at most 16 MiB over a local socket). */
export const REQUEST_TIMEOUT_MS = 120_000;
export const KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** How often the server looks for connections past the headers or request timeout. */
export const CONNECTIONS_CHECK_INTERVAL_MS = 1_000;
/** Longer than the upstream idle timeout, so a slow model call ends with a 502 rather than a dropped socket. */
export const CLIENT_IDLE_TIMEOUT_MS = UPSTREAM_IDLE_TIMEOUT_MS + 60_000;
/** Concurrent connections one sandbox may hold open; further ones are dropped. */
export const MAX_CONNECTIONS_PER_ENDPOINT = 64;

interface EndpointContext {
  agent: string;
  sandboxId: string;
  deps: GatewayDeps;
  pool: Agent;
}

function dispatch(ctx: EndpointContext, req: IncomingMessage, res: ServerResponse): void {
  const target = req.url ?? '';
  if (!target.startsWith('/')) return handleProxyRequest(ctx, req, res);
  // Matched on the raw path: no dot-segment or percent-decoding games can reach a path the allowlist lacks.
  const q = target.indexOf('?');
  const pathname = q < 0 ? target : target.slice(0, q);
  const search = q < 0 ? '' : target.slice(q);
  if (pathname !== '/model' && !pathname.startsWith('/model/')) return handleStrayRequest(ctx, req, res);
  const route = resolveModelRoute(ctx, req, res, pathname);
  if (route) forwardModelCall(ctx, req, res, { ...route, search });
}

function createEndpointServer(ctx: EndpointContext): { server: Server; sockets: Set<Socket> } {
  const t = ctx.deps.timeouts;
  const headersTimeout = t?.headersMs ?? HEADERS_TIMEOUT_MS;
  const server = createServer({
    maxHeaderSize: MAX_HEADER_BYTES,
    headersTimeout,
    requestTimeout: t?.requestMs ?? REQUEST_TIMEOUT_MS,
    keepAliveTimeout: t?.keepAliveMs ?? KEEP_ALIVE_TIMEOUT_MS,
    // Node checks the two timeouts above only this often (30 s by default), which doubles a slow client's hold.
    connectionsCheckingInterval: Math.min(CONNECTIONS_CHECK_INTERVAL_MS, headersTimeout),
  });
  server.timeout = CLIENT_IDLE_TIMEOUT_MS;
  server.maxConnections = MAX_CONNECTIONS_PER_ENDPOINT;
  server.on('request', (req, res) => {
    try {
      dispatch(ctx, req, res);
    } catch (err) {
      ctx.deps.log.error('gateway request failed', { agent: ctx.agent, error: errorMessage(err) });
      if (!res.headersSent)
        res.writeHead(500, { 'content-type': 'text/plain' }).end('corral gateway: internal error\n');
      else res.destroy();
    }
  });
  server.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) =>
    handleConnect(ctx, req, socket, head),
  );
  // Tracked so close() can end every connection, CONNECT sockets and idle keep-alives included.
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return { server, sockets };
}

function listen(server: Server, socketPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(socketPath, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function closeServer(server: Server, sockets: Set<Socket>, pool: Agent): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    for (const socket of sockets) socket.destroy();
    pool.destroy();
  });
}

export function createGateway(deps: GatewayDeps): Gateway {
  const endpoints = new Set<GatewayEndpoint>();
  let closed = false;

  async function attach(opts: AttachOptions): Promise<GatewayEndpoint> {
    if (closed) throw new CorralError('gateway_closed', 'the gateway is closed');
    await checkSocketPath(opts.socketPath);
    const ctx: EndpointContext = {
      agent: opts.agent,
      sandboxId: opts.sandboxId,
      deps,
      pool: createUpstreamPool(),
    };
    const { server, sockets } = createEndpointServer(ctx);
    server.on('error', (err) =>
      deps.log.error('gateway endpoint error', { agent: opts.agent, error: err.message }),
    );
    try {
      await listen(server, opts.socketPath);
    } catch (err) {
      throw new CorralError(
        'gateway_listen_failed',
        `cannot listen on ${opts.socketPath}: ${errorMessage(err)}`,
        undefined,
        {
          cause: err,
        },
      );
    }
    try {
      await restrictSocket(opts.socketPath, opts.owner);
      if (closed) throw new CorralError('gateway_closed', 'the gateway closed while attaching');
    } catch (err) {
      await closeServer(server, sockets, ctx.pool);
      await removeSocket(opts.socketPath);
      throw err;
    }

    let closing: Promise<void> | undefined;
    const endpoint: GatewayEndpoint = {
      socketPath: opts.socketPath,
      close: () => {
        closing ??= (async () => {
          endpoints.delete(endpoint);
          await closeServer(server, sockets, ctx.pool);
          await removeSocket(opts.socketPath);
        })();
        return closing;
      },
    };
    endpoints.add(endpoint);
    deps.log.info('gateway endpoint attached', { agent: opts.agent, sandboxId: opts.sandboxId });
    return endpoint;
  }

  return {
    attach,
    async close() {
      closed = true;
      await Promise.all([...endpoints].map((e) => e.close()));
    },
  };
}
