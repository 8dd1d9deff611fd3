// Plain-HTTP egress: an admitted absolute-form request is sent to the exact address that was checked and
// streamed both ways; redirects are passed back, never followed (the client's next request is judged anew).
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { relay } from './relay.ts';
import type { EgressRequest } from '../policy/egress.ts';
import type { Admission, EgressContext } from './egress-gate.ts';
import { EGRESS_CONNECT_TIMEOUT_MS, EGRESS_IDLE_TIMEOUT_MS } from './egress.ts';
import { forwardRequestHeaders, forwardResponseHeaders } from './forward-headers.ts';

const CONNECT_TIMEOUT = 'corral_connect_timeout';
const IDLE_TIMEOUT = 'corral_idle_timeout';

export function sendText(res: ServerResponse, status: number, text: string, close = false): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...(close ? { connection: 'close' } : {}),
  });
  res.end(text);
}

function failure(err: unknown, where: string): { status: number; text: string } {
  const code = err instanceof Error && 'code' in err ? String(err.code) : 'error';
  if (code === CONNECT_TIMEOUT || code === IDLE_TIMEOUT)
    return {
      status: 504,
      text: `corral gateway: ${where} timed out (${code === IDLE_TIMEOUT ? 'idle' : 'connect'})\n`,
    };
  return { status: 502, text: `corral gateway: ${where} failed: ${code}\n` };
}

/** Forwards one admitted request; `url` is the client's absolute-form target. */
export function forwardHttp(
  ctx: EgressContext,
  req: IncomingMessage,
  res: ServerResponse,
  target: EgressRequest & { url: URL },
  dest: Extract<Admission, { ok: true }>,
): void {
  const timeouts = ctx.deps.egress?.timeouts;
  const where = `${target.url.host}`;
  const upReq = http.request({
    host: dest.address,
    family: dest.family,
    port: target.port,
    method: target.method,
    path: target.url.pathname + target.url.search,
    headers: forwardRequestHeaders(req.headers, target.url.host),
    setHost: false,
    // Pooled by the pinned address itself (never by name), so reuse cannot reach an unchecked address.
    agent: ctx.pool ?? false,
  });
  const connectTimer = setTimeout(
    () => upReq.destroy(Object.assign(new Error(CONNECT_TIMEOUT), { code: CONNECT_TIMEOUT })),
    timeouts?.connectMs ?? EGRESS_CONNECT_TIMEOUT_MS,
  );
  upReq.once('socket', (s) => {
    // A pooled keep-alive socket is already connected.
    if (!s.connecting) clearTimeout(connectTimer);
    else s.once('connect', () => clearTimeout(connectTimer));
  });
  upReq.once('close', () => clearTimeout(connectTimer));
  upReq.setTimeout(timeouts?.idleMs ?? EGRESS_IDLE_TIMEOUT_MS, () =>
    upReq.destroy(Object.assign(new Error(IDLE_TIMEOUT), { code: IDLE_TIMEOUT })),
  );
  // Client gone before the answer was complete: stop the upstream request too.
  res.once('close', () => {
    if (!res.writableFinished) upReq.destroy();
  });
  // By hand rather than pipeline(): pipeline would destroy the client socket before a 502 could reach it.
  req.pipe(upReq);
  req.once('error', () => upReq.destroy());
  upReq.on('error', (err) => {
    req.unpipe(upReq);
    const f = failure(err, where);
    if (res.headersSent) res.destroy();
    else sendText(res, f.status, f.text, true);
  });
  upReq.once('response', (upRes) => {
    res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, forwardResponseHeaders(upRes.headers));
    relay(upRes, [], res, (err) => {
      if (err)
        ctx.deps.log.debug('egress response interrupted', { agent: ctx.agent, where, error: err.message });
    });
  });
}
