// Service route /model/<provider>/<path>: forwards a model call to the provider with the real key injected,
// streaming both ways, metering usage and redacting the key from whatever comes back.
import { GATEWAY_ERROR_HEADER } from '../protocol/sandbox-env.ts';
import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import { Transform } from 'node:stream';
import { relay } from './relay.ts';
import { z } from 'zod';
import type { ProviderKind } from '../protocol/frames.ts';
import type { Usage } from '../protocol/transcript.ts';
import { errorMessage } from '../util/errors.ts';
import type { Logger } from '../util/log.ts';
import { downstreamResponseHeaders, upstreamRequestHeaders } from './headers.ts';
import { refuseOverBudget } from './budget-refusal.ts';
import { createUsageMeter } from './metering.ts';
import { redactString, redactingStream } from './redact.ts';
import type { GatewayDeps, ProviderRoute } from './types.ts';
import { bodyDecoder, openUpstream, isUnreachable, upstreamErrorMessage, upstreamUrl } from './upstream.ts';
import { recordAudit } from './audit.ts';

/** Request bodies are small JSON documents; anything larger is refused rather than held for parsing. */
export const MAX_REQUEST_BODY_BYTES = 16 * 1024 * 1024;
const MAX_AUDITED_MODEL_CHARS = 200;
/** nginx's status for "the client closed the connection before the response was complete". */
const STATUS_CLIENT_CLOSED = 499;

/** The paths each wire protocol needs; every other path under /model/ is 404. */
const ALLOWED_PATHS: Record<ProviderKind, readonly string[]> = {
  anthropic: ['/v1/messages', '/v1/messages/count_tokens'],
  openai: ['/chat/completions'],
};

export interface CallContext {
  agent: string;
  sandboxId: string;
  deps: GatewayDeps;
}

function sendError(res: ServerResponse, status: number, type: string, message: string, close = false): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error: { type, message } });
  res.writeHead(status, {
    'content-type': 'application/json',
    // tells the runtime this answer is the gateway's own, not the provider's
    [GATEWAY_ERROR_HEADER]: type,
    'content-length': Buffer.byteLength(body),
    ...(close ? { connection: 'close' } : {}),
  });
  res.end(body);
}

/** Resolves `/model/<provider>/<rest>` to a provider and allowed path, or answers 404 and returns undefined. */
export function resolveModelRoute(
  ctx: CallContext,
  req: IncomingMessage,
  res: ServerResponse,
  pathname: string,
): { route: ProviderRoute; rest: string } | undefined {
  const m = /^\/model\/([^/]+)(\/.*)$/.exec(pathname);
  const route = m?.[1] === undefined ? undefined : ctx.deps.providers().get(m[1]);
  const rest = m?.[2] ?? '';
  if (!route) {
    sendError(res, 404, 'corral_not_found', `no model provider route ${pathname}`);
    return undefined;
  }
  if (req.method !== 'POST' || !ALLOWED_PATHS[route.kind].includes(rest)) {
    sendError(
      res,
      404,
      'corral_not_found',
      `the gateway does not forward ${req.method ?? ''} ${rest} to ${route.name}`,
    );
    return undefined;
  }
  return { route, rest };
}

/** Keeps the request body (up to `cap` bytes) as it streams past, to read the model name afterwards. */
function captureBody(cap: number): { push(chunk: Buffer): boolean; text(): string } {
  const chunks: Buffer[] = [];
  let size = 0;
  return {
    push(chunk) {
      size += chunk.length;
      if (size > cap) return false;
      chunks.push(chunk);
      return true;
    },
    text: () => Buffer.concat(chunks).toString('utf8'),
  };
}

const ModelField = z.object({ model: z.string() });

function modelOf(body: string): string {
  try {
    const parsed = ModelField.safeParse(JSON.parse(body));
    return parsed.success ? parsed.data.model.slice(0, MAX_AUDITED_MODEL_CHARS) : 'unknown';
  } catch {
    return 'unknown';
  }
}

type Finish = (status: number, usage: Usage | undefined, error?: string) => void;

/** One call's single exit: usage (when the response carried any) to onUsage, and exactly one audit entry. */
function callRecorder(ctx: CallContext, route: ProviderRoute, requestBody: () => string): Finish {
  let finished = false;
  return (status, usage, error) => {
    if (finished) return;
    finished = true;
    const model = modelOf(requestBody());
    const { agent, sandboxId } = ctx;
    // Runs from stream callbacks, where a throwing host callback would be an uncaught exception.
    const failed = (err: unknown): void =>
      ctx.deps.log.error('recording a model call failed', {
        agent,
        provider: route.name,
        error: errorMessage(err),
      });
    try {
      if (usage) ctx.deps.onUsage({ agent, sandboxId, provider: route.name, model, usage })?.catch(failed);
    } catch (err) {
      failed(err);
    }
    recordAudit(ctx.deps, {
      actor: `agent:${agent}`,
      action: 'model.call',
      subject: `provider:${route.name}`,
      detail: { sandboxId, provider: route.name, model, status, ...(error ? { error } : {}) },
    });
  };
}

/**
 * Sandbox → provider, by hand rather than pipeline(): on overflow the 413 must still reach the sandbox,
 * and pipeline would destroy the incoming socket first. Returns whether the body overflowed.
 */
function forwardBody(
  req: IncomingMessage,
  upReq: ClientRequest,
  body: ReturnType<typeof captureBody>,
  onOverflow: () => void,
): () => boolean {
  let overflowed = false;
  req.on('data', (chunk: Buffer) => {
    if (overflowed) return; // discarded until the 413 is written and the connection closes
    if (!body.push(chunk)) {
      overflowed = true;
      upReq.destroy();
      return onOverflow();
    }
    if (!upReq.write(chunk)) req.pause();
  });
  upReq.on('drain', () => req.resume());
  req.on('error', () => upReq.destroy());
  req.once('end', () => {
    if (!overflowed) upReq.end();
  });
  return () => overflowed;
}

/** Provider → decode → meter → redact → sandbox, every stage streaming; the status and headers pass unchanged. */
function relayResponse(
  upRes: IncomingMessage,
  res: ServerResponse,
  opts: { kind: ProviderKind; key: string; baseUrl: string; log: Logger; finish: Finish },
): void {
  const { key, finish } = opts;
  const scrub = (text: string): string => redactString(text, [key]);
  const status = upRes.statusCode ?? 502;
  const decode = bodyDecoder(upRes.headers['content-encoding']);
  if (!decode) {
    upRes.destroy();
    sendError(res, 502, 'corral_upstream_error', 'model provider sent an unsupported content-encoding');
    return finish(502, undefined, 'unsupported content-encoding');
  }
  const meter = createUsageMeter(opts.kind, upRes.headers['content-type']);
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      meter.push(chunk);
      done(null, chunk);
    },
  });
  res.writeHead(status, downstreamResponseHeaders(upRes.headers, scrub));
  relay(upRes, [decode, tap, redactingStream([key])], res, (err) => {
    if (!err) return finish(status, meter.result());
    const message = scrub(upstreamErrorMessage(err, opts.baseUrl));
    opts.log.warn('model response interrupted', { error: message });
    finish(status, meter.result(), `response interrupted: ${message}`);
  });
}

const tooLarge = (res: ServerResponse): void =>
  sendError(res, 413, 'corral_request_too_large', `request body over ${MAX_REQUEST_BODY_BYTES} bytes`, true);

/** Forwards one model call with the real key; onUsage and the audit entry happen exactly once, at its end. */
export function forwardModelCall(
  ctx: CallContext,
  req: IncomingMessage,
  res: ServerResponse,
  target: { route: ProviderRoute; rest: string; search: string },
): void {
  const { route } = target;
  const log = ctx.deps.log.child({ agent: ctx.agent, sandboxId: ctx.sandboxId, provider: route.name });
  const body = captureBody(MAX_REQUEST_BODY_BYTES);
  const finish = callRecorder(ctx, route, () => body.text());

  if (Number(req.headers['content-length'] ?? 0) > MAX_REQUEST_BODY_BYTES) {
    tooLarge(res);
    return finish(413, undefined, 'request too large');
  }
  // Before anything reaches the provider: a spent budget must cost nothing more.
  const budget = ctx.deps.checkBudget?.(ctx.agent);
  if (budget?.ok === false) {
    refuseOverBudget(res, route.kind, budget.message);
    return finish(429, undefined, 'budget exhausted');
  }
  // Read at request time, never cached: a key set or rotated with `corral secret set` applies to the next call.
  const key = ctx.deps.readSecret(route.keySecret);
  if (!key) {
    const message = `secret ${route.keySecret} is not set; run: printf %s "$KEY" | corral secret set ${route.keySecret}`;
    sendError(res, 502, 'corral_missing_secret', message);
    return finish(502, undefined, 'missing secret');
  }
  const url = upstreamUrl(route.baseUrl, target.rest, target.search);
  if (!url) {
    sendError(res, 502, 'corral_bad_provider', `provider ${route.name} has an invalid base URL`);
    return finish(502, undefined, 'invalid base URL');
  }

  const upReq = openUpstream(url, upstreamRequestHeaders(req.headers, route.kind, key));
  const overflowed = forwardBody(req, upReq, body, () => {
    tooLarge(res);
    finish(413, undefined, 'request too large');
  });
  // The sandbox went away (or the endpoint closed) before the response was complete: stop the upstream call.
  let clientGone = false;
  res.once('close', () => {
    if (res.writableFinished) return;
    clientGone = true;
    upReq.destroy();
  });
  upReq.on('error', (err) => {
    if (overflowed() || res.headersSent) return; // already answered, or relayResponse reports it
    if (clientGone) return finish(STATUS_CLIENT_CLOSED, undefined, 'sandbox closed the connection');
    const message = redactString(upstreamErrorMessage(err, route.baseUrl), [key]);
    log.warn('model call failed upstream', { error: message });
    sendError(
      res,
      502,
      isUnreachable(err) ? 'corral_upstream_unreachable' : 'corral_upstream_error',
      message,
    );
    finish(502, undefined, message);
  });
  upReq.once('response', (upRes) =>
    relayResponse(upRes, res, { kind: route.kind, key, baseUrl: route.baseUrl, log, finish }),
  );
}
