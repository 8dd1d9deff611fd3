// The HTTP API (node:http, no framework: a handful of routes): messages in, their status and conversations out,
// live events over SSE, health and Prometheus metrics. Every request needs the api-token or an operator's token
// (src/web/auth.ts); a message is a `message.send` by that operator, decided by the policy (src/host/daemon/intake.ts).
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { AgentName } from '../config/names.ts';
import type { EventBus } from '../host/daemon/events.ts';
import type { Intake } from '../host/daemon/intake.ts';
import type { MessageService } from '../host/daemon/messages.ts';
import { CorralError, errorMessage } from '../util/errors.ts';
import type { Logger } from '../util/log.ts';
import type { Route } from './http-util.ts';
import { HttpError, readJsonBody, sendError, sendJson } from './http-util.ts';
import type { DashboardHandler } from './dashboard/dashboard.ts';
import { isDashboardPath } from './dashboard/dashboard.ts';
import { streamEvents } from './sse.ts';
import { sendFileDownload } from './file-download.ts';
import type { LoadedPolicy } from '../policy/policy.ts';
import { API_OPERATOR, authenticateRequest, callerOf } from './auth.ts';

export const MAX_BODY_BYTES = 256 * 1024;
export const MAX_TEXT_CHARS = 100_000;

const Thread = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/,
    'letters, digits and . _ : @ - (max 128), starting with a letter or digit',
  );

export const PostMessage = z
  .object({
    text: z.string().min(1).max(MAX_TEXT_CHARS).describe('the message'),
    thread: Thread.optional().describe('conversation within the agent; default "default"'),
    callback: z
      .string()
      .url()
      .refine((u) => /^https?:\/\//.test(u), 'callback must be an http:// or https:// URL')
      .optional()
      .describe('URL the reply is POSTed to (Idempotency-Key header: reply:<id>)'),
  })
  .strict();

export interface ApiDeps {
  token: string;
  /** the operators (and their token digests) of policy.yaml */
  policy?: () => LoadedPolicy;
  log: Logger;
  messages: MessageService;
  /** decides each posted message (deny, hold for approval, or accept) */
  intake: Intake;
  events: EventBus;
  metrics: () => string;
  health: () => Record<string, unknown>;
  /** further routes (scheduled tasks) */
  extraRoutes?: Route[];
  /** the dashboard (src/web/dashboard): its own cookie login, mounted on `/` and `/ui/…` */
  dashboard?: DashboardHandler;
  /** POST /v1/channels/KIND/NAME (webhook, telegram), authenticated by the channel's own signature or secret
   * instead of the token; resolves false when no such channel runs */
  channelWebhook?: (
    kind: 'webhook' | 'telegram',
    name: string,
    req: IncomingMessage,
    res: ServerResponse,
  ) => Promise<boolean>;
  maxBodyBytes?: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function agentParam(raw: string | undefined): string {
  const name = decodeURIComponent(raw ?? '');
  if (!AgentName.safeParse(name).success)
    throw new HttpError(404, 'agent_unknown', `unknown agent '${name}'`);
  return name;
}

/** CorralErrors from the host become HTTP errors with the same code and hint. */
function fromCorral(err: CorralError): HttpError {
  const status: Record<string, number> = {
    agent_unknown: 404,
    agent_invalid: 409,
    draining: 503,
    task_unknown: 404,
    not_found: 404,
    invalid_argument: 400,
    schedule_invalid: 400,
    approval_unknown: 404,
    approval_closed: 409,
    approval_always_unsafe: 400,
    policy_denied: 403,
  };
  const headers: Record<string, string> = err.code === 'draining' ? { 'retry-after': '5' } : {};
  return new HttpError(status[err.code] ?? 500, err.code, err.message, err.hint, headers);
}

export function createApiHandler(deps: ApiDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const limit = deps.maxBodyBytes ?? MAX_BODY_BYTES;
  const routes: Route[] = [
    {
      method: 'POST',
      path: /^\/v1\/agents\/([^/]+)\/messages$/,
      handler: async (req, res, [name]) => {
        const agent = agentParam(name);
        const body = await readJsonBody(req, limit, PostMessage);
        const r = await deps.intake.submit(callerOf(req) ?? API_OPERATOR, {
          agent,
          channel: 'api',
          thread: body.thread ?? 'default',
          text: body.text,
          replyTo: body.callback === undefined ? null : { channel: 'webhook', url: body.callback },
        });
        switch (r.status) {
          case 'denied':
            throw new HttpError(
              403,
              'policy_denied',
              `message refused: ${r.reason}${r.rule === undefined ? '' : ` (rule ${r.rule})`}`,
              'an operator can change who may send in policy.yaml or the agent file (docs/governance.md)',
            );
          case 'held':
            return sendJson(
              res,
              202,
              { status: 'held', approval: r.approval, reason: r.reason },
              { location: `/v1/approvals/${r.approval}` },
            );
          case 'accepted': {
            const m = r.message;
            return sendJson(
              res,
              202,
              { id: m.id, status: m.status, ...(m.queue ? { queue: m.queue } : {}) },
              { location: `/v1/messages/${m.id}` },
            );
          }
        }
      },
    },
    {
      method: 'GET',
      path: /^\/v1\/messages\/([^/]+)$/,
      handler: (_req, res, [id]) => {
        const m = UUID.test(id ?? '') ? deps.messages.get(id ?? '') : undefined;
        if (m === undefined) throw new HttpError(404, 'message_unknown', `no message '${id}'`);
        sendJson(res, 200, m);
      },
    },
    {
      method: 'GET',
      path: /^\/v1\/messages\/([^/]+)\/files\/([^/]+)$/,
      handler: (_req, res, [id, fileId]) => {
        const ok = UUID.test(id ?? '') && UUID.test(fileId ?? '');
        const file = ok ? deps.messages.file(id ?? '', fileId ?? '') : undefined;
        if (file === undefined)
          throw new HttpError(404, 'file_unknown', `no file '${fileId}' in message '${id}'`);
        sendFileDownload(res, file);
      },
    },
    {
      method: 'GET',
      path: /^\/v1\/agents\/([^/]+)\/messages$/,
      handler: (_req, res, [name], url) => {
        const agent = agentParam(name);
        const thread = Thread.safeParse(url.searchParams.get('thread') ?? 'default');
        const channel = Thread.safeParse(url.searchParams.get('channel') ?? 'api');
        if (!thread.success || !channel.success)
          throw new HttpError(400, 'invalid_query', 'invalid thread or channel');
        sendJson(res, 200, {
          agent,
          channel: channel.data,
          thread: thread.data,
          messages: deps.messages.conversation(agent, channel.data, thread.data),
        });
      },
    },
    {
      method: 'GET',
      path: /^\/v1\/events$/,
      handler: (req, res, _p, url) => streamEvents(req, res, deps.events, url),
    },
    { method: 'GET', path: /^\/healthz$/, handler: (_req, res) => sendJson(res, 200, deps.health()) },
    {
      method: 'GET',
      path: /^\/metrics$/,
      handler: (_req, res) => {
        const text = deps.metrics();
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
        res.end(text);
      },
    },
    ...(deps.extraRoutes ?? []),
  ];

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const page = new URL(req.url ?? '/', 'http://corral.invalid');
    if (deps.dashboard !== undefined && isDashboardPath(page.pathname)) return deps.dashboard(req, res, page);
    const hook = /^\/v1\/channels\/(webhook|telegram)\/([a-z][a-z0-9-]{0,31})$/.exec(page.pathname);
    const kind = hook?.[1] === 'telegram' ? 'telegram' : 'webhook';
    if (
      hook?.[2] !== undefined &&
      deps.channelWebhook &&
      (await deps.channelWebhook(kind, hook[2], req, res))
    )
      return;
    authenticateRequest(req, { apiToken: deps.token, ...(deps.policy ? { policy: deps.policy } : {}) });
    const url = new URL(req.url ?? '/', 'http://corral.invalid');
    let pathMatched = false;
    for (const route of routes) {
      const m = route.path.exec(url.pathname);
      if (m === null) continue;
      pathMatched = true;
      if (route.method !== req.method) continue;
      return route.handler(req, res, m.slice(1), url);
    }
    if (pathMatched)
      throw new HttpError(405, 'method_not_allowed', `${req.method} is not allowed on ${url.pathname}`);
    throw new HttpError(404, 'not_found', `no route ${req.method} ${url.pathname}`);
  };

  return (req, res) => {
    handle(req, res).catch((err: unknown) => {
      const httpErr =
        err instanceof HttpError ? err : err instanceof CorralError ? fromCorral(err) : undefined;
      if (httpErr === undefined || httpErr.status >= 500)
        deps.log.error('api request failed', { method: req.method, url: req.url, err: errorMessage(err) });
      if (res.headersSent) return void res.destroy();
      sendError(res, httpErr ?? new HttpError(500, 'internal', 'internal error; see the host log'));
    });
  };
}

export interface ApiServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

export async function startApiServer(deps: ApiDeps & { host: string; port: number }): Promise<ApiServer> {
  const server = createServer({ requestTimeout: 60_000, headersTimeout: 30_000 }, createApiHandler(deps));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(
        new CorralError(
          'listen_failed',
          `cannot listen on ${deps.host}:${deps.port}: ${errorMessage(err)}`,
          'choose another port with --port, or stop what uses it',
        ),
      ),
    );
    server.listen(deps.port, deps.host, () => resolve());
  });
  const { port } = z.custom<AddressInfo>((a) => typeof a === 'object' && a !== null).parse(server.address());
  const host = deps.host.includes(':') ? `[${deps.host}]` : deps.host;
  return {
    url: `http://${host}:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // SSE streams stay open otherwise
      }),
  };
}
