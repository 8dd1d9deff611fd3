// Ordinary proxy traffic from a sandbox (absolute-form requests, CONNECT, stray paths): admitted or refused
// by the agent's egress policy and the SSRF guard, then forwarded (plain HTTP) or tunnelled (CONNECT).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { errorMessage } from '../util/errors.ts';
import { admitEgress } from './egress-gate.ts';
import type { EgressContext } from './egress-gate.ts';
import { authority, denyText, proxyTarget } from './egress.ts';
import { forwardHttp, sendText } from './forward.ts';
import { openTunnel, rawReply } from './tunnel.ts';
import { forwardWithCredentials } from './credentials/forward.ts';
import { boundOrAuditStray, hasBoundSecret } from './credentials/swap.ts';
import { interceptTls } from './tls/intercept.ts';
import { recordAudit } from './audit.ts';

export type ProxyContext = EgressContext;

const MAX_AUDITED_CHARS = 300;
const clip = (s: string): string => s.slice(0, MAX_AUDITED_CHARS);
const STATUS_TEXT = { 403: '403 Forbidden', 502: '502 Bad Gateway' } as const;

/** A throw after admission (a bug) answers this request only; it must never become an unhandled rejection. */
function failed(ctx: ProxyContext, answer: () => void): (err: unknown) => void {
  return (err) => {
    ctx.deps.log.error('egress handling failed', { agent: ctx.agent, error: errorMessage(err) });
    answer();
  };
}

function parseUrl(target: string): URL | undefined {
  try {
    return new URL(target);
  } catch {
    return undefined;
  }
}

/** An absolute-form proxy request (`GET http://host/...`). */
export function handleProxyRequest(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse): void {
  const method = req.method ?? '';
  const target = proxyTarget(method, req.url ?? '');
  const url = parseUrl(req.url ?? '');
  if (!target || !url) return sendText(res, 400, 'corral gateway: malformed proxy request target\n', true);
  if (url.protocol !== 'http:')
    return sendText(res, 400, `corral gateway: send ${url.protocol} requests through CONNECT\n`, true);
  if (url.username !== '' || url.password !== '')
    return sendText(res, 400, 'corral gateway: credentials in a proxy URL are not forwarded\n', true);
  // Nothing is read from the body until the request is admitted; it waits in the socket meanwhile.
  req.pause();
  const path = url.pathname + url.search;
  // A host with a secret bound for this agent is forwarded by the credential path; elsewhere a sentinel is inert.
  const bound = boundOrAuditStray(ctx, { ...target, tls: false }, req.headers, path);
  admitEgress(ctx, target).then(
    (admission) => {
      if (!admission.ok)
        return sendText(
          res,
          admission.status,
          denyText(authority(target.host, target.port), admission.reason),
        );
      req.resume();
      if (bound) {
        const { host, port } = target;
        return forwardWithCredentials(ctx, req, res, {
          protocol: 'http:',
          host,
          port,
          address: admission.address,
          path,
        });
      }
      forwardHttp(ctx, req, res, { ...target, url }, admission);
    },
    failed(ctx, () => sendText(res, 500, 'corral gateway: internal error\n', true)),
  );
}

/**
 * An origin-form request outside the service routes: it names no destination of its own, so it is not
 * egress to decide on; it is denied with the same answer, naming the Host it was sent to.
 */
export function handleStrayRequest(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse): void {
  const host = clip(req.headers.host ?? 'gateway');
  const path = (req.url ?? '').split('?')[0] ?? '';
  const reason = 'not a proxy request; send absolute-form requests or CONNECT';
  recordAudit(ctx.deps, {
    actor: `agent:${ctx.agent}`,
    action: 'egress.deny',
    subject: host,
    detail: { sandboxId: ctx.sandboxId, method: clip(req.method ?? ''), path: clip(path), reason },
  });
  sendText(res, 403, denyText(host, reason));
}

/** CONNECT host:port: admitted then tunnelled, or answered on the raw socket, which is then closed. */
export function handleConnect(ctx: ProxyContext, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', () => socket.destroy());
  const target = proxyTarget('CONNECT', req.url ?? '');
  if (!target) return rawReply(socket, '400 Bad Request', 'corral gateway: malformed CONNECT target\n');
  admitEgress(ctx, target).then(
    (admission) => {
      // TLS to a host with a secret bound for this agent is terminated so the sentinel can be swapped.
      if (admission.ok && hasBoundSecret(ctx, { ...target, tls: true }))
        return interceptTls(
          socket,
          { host: target.host, port: target.port, address: admission.address },
          ctx,
          head,
        );
      if (admission.ok) return openTunnel(ctx, socket, head, target.port, admission);
      const text = denyText(authority(target.host, target.port), admission.reason);
      rawReply(socket, STATUS_TEXT[admission.status], text);
    },
    failed(ctx, () => socket.destroy()),
  );
}
