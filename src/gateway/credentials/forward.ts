// Forwards one request to a host with a bound secret: sentinels swapped (swap.ts), the body streamed both
// ways, the real host's certificate verified, and any echo of an injected value redacted from the answer.
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream';
import { downstreamResponseHeaders } from '../headers.ts';
import { redactString, redactingStream } from '../redact.ts';
import type { GatewayDeps } from '../types.ts';
import { EGRESS_CONNECT_TIMEOUT_MS, EGRESS_IDLE_TIMEOUT_MS } from '../egress.ts';
import { bodyDecoder } from '../upstream.ts';
import { swapCredentials } from './swap.ts';

export interface ForwardTarget {
  protocol: 'http:' | 'https:';
  host: string;
  port: number;
  /** the address the caller checked (SSRF guard); connected to as is, never looked up again */
  address: string;
  /** origin-form path with query */
  path: string;
}

type Ctx = { agent: string; sandboxId: string; deps: GatewayDeps };

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'accept-encoding',
]);

function upstreamHeaders(headers: OutgoingHttpHeaders, t: ForwardTarget): OutgoingHttpHeaders {
  const named = String(headers['connection'] ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase());
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers))
    if (v !== undefined && !HOP_BY_HOP.has(k) && !named.includes(k)) out[k] = v;
  const defaultPort = t.protocol === 'https:' ? 443 : 80;
  const hostText = t.host.includes(':') ? `[${t.host}]` : t.host;
  // The Host is the destination that was checked, whatever the client wrote; identity keeps bodies redactable.
  out['host'] = t.port === defaultPort ? hostText : `${hostText}:${t.port}`;
  out['accept-encoding'] = 'identity';
  return out;
}

function fail(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
  res.end(`corral gateway: ${text}\n`);
}

export function forwardWithCredentials(
  ctx: Ctx,
  req: IncomingMessage,
  res: ServerResponse,
  t: ForwardTarget,
): void {
  const swap = swapCredentials(ctx, { ...t, tls: t.protocol === 'https:' }, req.headers, t.path);
  const scrub = (s: string): string => redactString(s, swap.values);
  // The same limits as any other egress: this is egress, with a credential on it.
  const timeouts = ctx.deps.egress?.timeouts;
  const options = {
    host: t.address,
    port: t.port,
    method: req.method,
    path: t.path,
    headers: upstreamHeaders(swap.headers, t),
    agent: false,
    timeout: timeouts?.idleMs ?? EGRESS_IDLE_TIMEOUT_MS,
  };
  const upReq =
    t.protocol === 'https:'
      ? https.request({
          ...options,
          // verified against the name the agent asked for, at the address that was checked
          ...(isIP(t.host) ? {} : { servername: t.host }),
          ...(ctx.deps.credentials?.tls?.upstreamCa ? { ca: ctx.deps.credentials.tls.upstreamCa } : {}),
        })
      : http.request(options);
  const connectTimer = setTimeout(
    () => upReq.destroy(new Error('connect timeout')),
    timeouts?.connectMs ?? EGRESS_CONNECT_TIMEOUT_MS,
  );
  upReq.once('socket', (s) =>
    s.once(t.protocol === 'https:' ? 'secureConnect' : 'connect', () => clearTimeout(connectTimer)),
  );
  upReq.once('close', () => clearTimeout(connectTimer));
  upReq.on('timeout', () => upReq.destroy(new Error('upstream idle timeout')));
  upReq.on('error', (err) => {
    const code = 'code' in err ? String(err.code) : err.message;
    ctx.deps.log.warn('credential forward failed', { agent: ctx.agent, host: t.host, error: scrub(code) });
    fail(res, 502, `${t.host}:${t.port} failed: ${scrub(code)}`);
  });
  res.once('close', () => {
    if (!res.writableFinished) upReq.destroy();
  });
  // By hand rather than pipeline(): a failed upstream must not destroy the client socket before the 502.
  req.pipe(upReq);
  req.on('error', () => upReq.destroy());
  upReq.once('response', (upRes) => {
    const decode = bodyDecoder(upRes.headers['content-encoding']);
    if (!decode) {
      upRes.destroy();
      return fail(res, 502, `${t.host} sent an unsupported content-encoding`);
    }
    res.writeHead(upRes.statusCode ?? 502, downstreamResponseHeaders(upRes.headers, scrub));
    pipeline(upRes, decode, redactingStream(swap.values), res, () => undefined);
  });
}
