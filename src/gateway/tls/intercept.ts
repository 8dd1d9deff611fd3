// TLS termination for a CONNECT to a host with a bound secret: the gateway answers the handshake with a leaf
// for that host (signed by the install's CA), reads the HTTP inside and forwards each request itself.
import { createServer } from 'node:http';
import { TLSSocket } from 'node:tls';
import type { SecureContext } from 'node:tls';
import type { Duplex } from 'node:stream';
import { errorMessage } from '../../util/errors.ts';
import { forwardWithCredentials } from '../credentials/forward.ts';
import type { GatewayDeps } from '../types.ts';
import { recordAudit } from '../audit.ts';

/** Same limits as the endpoint's own server: a request line and headers, and time to send them. */
const INNER_MAX_HEADER_BYTES = 16 * 1024;
const INNER_HEADERS_TIMEOUT_MS = 30_000;
const INNER_KEEP_ALIVE_TIMEOUT_MS = 5_000;
const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

export interface InterceptTarget {
  host: string;
  port: number;
  /** the address the CONNECT handler checked; every request inside goes there */
  address: string;
}

/** The path and query of a request line; an absolute-form URL inside the tunnel keeps only those. */
function originForm(url: string): string {
  if (url.startsWith('/')) return url;
  try {
    const u = new URL(url);
    return u.pathname + u.search;
  } catch {
    return '/';
  }
}

type Ctx = { agent: string; sandboxId: string; deps: GatewayDeps };

/**
 * Takes over a CONNECT socket whose policy decision was already made: answers 200, terminates TLS, and
 * forwards every request inside to `target` over TLS. `head` is what the client sent after the CONNECT.
 */
export function interceptTls(socket: Duplex, target: InterceptTarget, ctx: Ctx, head?: Buffer): void {
  const tlsDeps = ctx.deps.credentials?.tls;
  if (!tlsDeps) {
    // Fail closed: without a CA there is nowhere to put the credential, and the caller chose not to tunnel.
    socket.end('HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    return;
  }
  let context: SecureContext;
  try {
    context = tlsDeps.contextFor(target.host);
  } catch (err) {
    ctx.deps.log.error('leaf certificate failed', { host: target.host, error: errorMessage(err) });
    socket.end('HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    return;
  }
  if (head && head.length > 0) socket.unshift(head);
  socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
  const secure = new TLSSocket(socket, {
    isServer: true,
    secureContext: context,
    ALPNProtocols: ['http/1.1'],
  });
  const inner = createServer({
    maxHeaderSize: INNER_MAX_HEADER_BYTES,
    headersTimeout: INNER_HEADERS_TIMEOUT_MS,
    keepAliveTimeout: INNER_KEEP_ALIVE_TIMEOUT_MS,
  });
  inner.on('request', (req, res) =>
    forwardWithCredentials(ctx, req, res, {
      protocol: 'https:',
      host: target.host,
      port: target.port,
      address: target.address,
      path: originForm(req.url ?? '/'),
    }),
  );
  const handshake = setTimeout(() => secure.destroy(), TLS_HANDSHAKE_TIMEOUT_MS);
  secure.once('secure', () => clearTimeout(handshake));
  secure.once('close', () => clearTimeout(handshake));
  secure.on('error', (err: Error) => {
    ctx.deps.log.debug('intercepted TLS connection failed', { host: target.host, error: err.message });
    secure.destroy();
  });
  socket.on('close', () => secure.destroy());
  secure.on('close', () => socket.destroy());
  recordAudit(ctx.deps, {
    actor: `agent:${ctx.agent}`,
    action: 'egress.intercept',
    subject: `${target.host}:${target.port}`,
    detail: { sandboxId: ctx.sandboxId, reason: 'a secret granted to this agent is bound to this host' },
  });
  inner.emit('connection', secure);
}
