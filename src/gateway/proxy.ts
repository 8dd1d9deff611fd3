// Ordinary proxy traffic from a sandbox (absolute-form requests, CONNECT, stray paths): decided by
// decideEgress, audited, and today always answered 403 because no forwarding exists yet (fail closed).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { decideEgress, denyText, proxyTarget } from './egress.ts';
import type { EgressRequest } from './egress.ts';
import type { GatewayDeps } from './types.ts';

export interface ProxyContext {
  agent: string;
  sandboxId: string;
  deps: GatewayDeps;
}

const MAX_AUDITED_CHARS = 300;
const clip = (s: string): string => s.slice(0, MAX_AUDITED_CHARS);

/** Decides and audits; returns the reason for the denial. */
function decide(ctx: ProxyContext, target: EgressRequest): string {
  const decision = decideEgress(ctx.agent, target);
  // Until allowed egress is forwarded, an allow would have nowhere to go: deny rather than pretend.
  const reason = decision.allow ? 'egress forwarding is not available yet' : decision.reason;
  ctx.deps.audit({
    actor: `agent:${ctx.agent}`,
    action: 'egress.deny',
    subject: clip(`${target.host}:${target.port}`),
    detail: { sandboxId: ctx.sandboxId, method: clip(target.method), path: clip(target.path), reason },
  });
  return reason;
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** An absolute-form proxy request (`GET http://host/...`). */
export function handleProxyRequest(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse): void {
  const target = proxyTarget(req.method ?? '', req.url ?? '');
  if (!target) return sendText(res, 400, 'corral gateway: malformed proxy request target\n');
  sendText(res, 403, denyText(target.host, decide(ctx, target)));
}

/**
 * An origin-form request outside the service routes: it names no destination of its own, so it is not
 * egress to decide on; it is denied with the same answer, naming the Host it was sent to.
 */
export function handleStrayRequest(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse): void {
  const host = clip(req.headers.host ?? 'gateway');
  const path = (req.url ?? '').split('?')[0] ?? '';
  const reason = 'default deny; no allow rule';
  ctx.deps.audit({
    actor: `agent:${ctx.agent}`,
    action: 'egress.deny',
    subject: host,
    detail: { sandboxId: ctx.sandboxId, method: clip(req.method ?? ''), path: clip(path), reason },
  });
  sendText(res, 403, denyText(host, reason));
}

/** CONNECT host:port: answered on the raw socket, which is then closed; no tunnel is ever opened. */
export function handleConnect(ctx: ProxyContext, req: IncomingMessage, socket: Duplex): void {
  const target = proxyTarget('CONNECT', req.url ?? '');
  const [status, text] = target
    ? ['403 Forbidden', denyText(target.host, decide(ctx, target))]
    : ['400 Bad Request', 'corral gateway: malformed CONNECT target\n'];
  socket.end(
    `HTTP/1.1 ${status}\r\ncontent-type: text/plain; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
  );
}
