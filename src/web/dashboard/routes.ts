// The dashboard's pages and form actions. Each handler reads what it shows from the host's own services (the
// store, the catalog, the queue, the message intake, the approvals service) and renders a page or redirects.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { ChannelStatus } from '../../channels/types.ts';
import type { HomePaths } from '../../config/home.ts';
import { AgentName } from '../../config/schema.ts';
import type { AgentCatalog } from '../../host/daemon/agent-catalog.ts';
import type { Intake } from '../../host/daemon/intake.ts';
import type { MessageService } from '../../host/daemon/messages.ts';
import type { Governance } from '../../host/authorize.ts';
import type { Router } from '../../host/queue/router.ts';
import type { Store } from '../../store/types.ts';
import { CorralError } from '../../util/errors.ts';
import { HttpError, sendJson } from '../http-util.ts';
import { sendFileDownload } from '../file-download.ts';
import type { Outcome } from './agent-admin.ts';
import {
  agentTemplate,
  allowHost,
  deleteAgent,
  readAgentYaml,
  saveAgentYaml,
  setPaused,
  validateAgentYaml,
} from './agent-admin.ts';
import { fleetRows } from './fleet-state.ts';
import { seg } from './html.ts';
import type { Viewer } from './layout.ts';
import { UI } from './layout.ts';
import { agentPage } from './pages/agent.ts';
import { editPage } from './pages/agent-edit.ts';
import { approvalsPage } from './pages/approvals.ts';
import type { AuditFilters, Verdict } from './pages/audit.ts';
import { auditPage } from './pages/audit.ts';
import { chatPage } from './pages/chat.ts';
import { egressPage } from './pages/egress.ts';
import { fleetPage } from './pages/fleet.ts';
import { usagePage } from './pages/usage.ts';
import { redirect, sendHtml } from './respond.ts';
import type { WebSession } from './sessions.ts';
import { usageByDay } from './usage-data.ts';

export interface PageContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: string[];
  form: URLSearchParams;
  viewer: Viewer;
  session: WebSession;
}

export interface PageRoute {
  method: 'GET' | 'POST';
  path: RegExp;
  /** a POST that changes state: admin operators only */
  changes?: boolean;
  handler: (c: PageContext) => Promise<void> | void;
}

export interface PageDeps {
  home: HomePaths;
  store: Store;
  catalog: AgentCatalog;
  router: Pick<Router, 'depths' | 'runningByAgent'>;
  messages: MessageService;
  intake: Intake;
  governance: Governance;
  channels?: { statuses(): ChannelStatus[] };
  now: () => Date;
}

const Thread = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/);
const AUDIT_LIMIT = 200;
const APPROVAL_STATUSES = ['pending', 'approved', 'denied', 'expired'] as const;

function agentName(raw: string | undefined): string {
  const r = AgentName.safeParse(raw ?? '');
  if (!r.success) throw new HttpError(404, 'agent_unknown', `unknown agent '${raw ?? ''}'`);
  return r.data;
}

const wantsJson = (req: IncomingMessage): boolean => (req.headers.accept ?? '').includes('application/json');

/**
 * After a form action: back to `to`, the outcome kept in the session for the next page (not in the URL, so a
 * crafted link cannot put words on a dashboard page).
 */
function after(c: PageContext, to: string, o: Outcome): void {
  if (wantsJson(c.req)) return sendJson(c.res, o.ok ? 200 : 409, o);
  c.session.flash = { ok: o.ok, message: o.message };
  redirect(c.res, to);
}

/** The outcome of the last form action, shown once. */
const flashOf = (c: PageContext) => {
  const f = c.session.flash;
  c.session.flash = undefined;
  if (f === undefined) return {};
  return f.ok ? { flash: f.message } : { error: f.message };
};

export function pageRoutes(deps: PageDeps): PageRoute[] {
  const admin = { home: deps.home, store: deps.store, governance: deps.governance };
  const who = (c: PageContext) => c.viewer.principal;

  const fleet: PageRoute = {
    method: 'GET',
    path: /^\/ui\/fleet$/,
    handler: (c) =>
      sendHtml(
        c.res,
        200,
        fleetPage({
          rows: fleetRows(deps),
          channels: deps.channels?.statuses() ?? [],
          viewer: c.viewer,
          now: deps.now(),
          ...flashOf(c),
        }),
      ),
  };

  const agentRoutes: PageRoute[] = [
    {
      method: 'GET',
      path: /^\/ui\/agents\/new$/,
      handler: (c) => sendHtml(c.res, 200, editPage({ viewer: c.viewer, text: agentTemplate(deps.home) })),
    },
    {
      method: 'POST',
      path: /^\/ui\/agents\/new$/,
      changes: true,
      handler: async (c) => {
        const text = c.form.get('yaml') ?? '';
        const o = await saveAgentYaml(admin, who(c), text, { create: true });
        if (o.ok) return after(c, `${UI}/fleet`, o);
        sendHtml(
          c.res,
          400,
          editPage({
            viewer: c.viewer,
            text,
            error: o.message,
            ...(o.problems ? { problems: o.problems } : {}),
          }),
        );
      },
    },
    {
      // live validation from the editor: changes nothing, but is a POST (the YAML may be long) under CSRF
      method: 'POST',
      path: /^\/ui\/agents\/validate$/,
      handler: (c) => {
        const name = c.form.get('name') || undefined;
        const v = validateAgentYaml(deps.home, c.form.get('yaml') ?? '', name);
        sendJson(c.res, 200, v.ok ? { ok: true, problems: [] } : v);
      },
    },
    {
      method: 'GET',
      path: /^\/ui\/agents\/([^/]+)\/edit$/,
      handler: (c) => {
        const name = agentName(c.params[0]);
        const text = readAgentYaml(deps.home, name);
        if (text === undefined) throw new HttpError(404, 'agent_unknown', `unknown agent '${name}'`);
        sendHtml(c.res, 200, editPage({ viewer: c.viewer, name, text }));
      },
    },
    {
      method: 'POST',
      path: /^\/ui\/agents\/([^/]+)\/edit$/,
      changes: true,
      handler: async (c) => {
        const name = agentName(c.params[0]);
        const text = c.form.get('yaml') ?? '';
        const o = await saveAgentYaml(admin, who(c), text, { create: false, name });
        if (o.ok) return after(c, `${UI}/fleet`, o);
        sendHtml(
          c.res,
          400,
          editPage({
            viewer: c.viewer,
            name,
            text,
            error: o.message,
            ...(o.problems ? { problems: o.problems } : {}),
          }),
        );
      },
    },
    {
      method: 'POST',
      path: /^\/ui\/agents\/([^/]+)\/(pause|resume)$/,
      changes: true,
      handler: async (c) =>
        after(
          c,
          `${UI}/fleet`,
          await setPaused(admin, who(c), agentName(c.params[0]), c.params[1] === 'pause'),
        ),
    },
    {
      method: 'POST',
      path: /^\/ui\/agents\/([^/]+)\/delete$/,
      changes: true,
      handler: async (c) => after(c, `${UI}/fleet`, await deleteAgent(admin, who(c), agentName(c.params[0]))),
    },
    {
      method: 'GET',
      path: /^\/ui\/agents\/([^/]+)$/,
      handler: (c) => {
        const name = agentName(c.params[0]);
        const def = deps.catalog.get(name);
        if (
          def instanceof CorralError &&
          def.code === 'agent_unknown' &&
          deps.store.getAgent(name) === undefined
        )
          throw def;
        const received = deps.store.queryAudit({ agent: name, action: 'message.received', limit: 500 });
        const seen = new Map<string, string>();
        for (const e of received.reverse()) {
          const key = e.detail['session'];
          if (typeof key === 'string' && !seen.has(key)) seen.set(key, e.at);
        }
        const sessions = [...seen.entries()].map(([key, at]) => ({ key, at }));
        const key = c.url.searchParams.get('session') ?? sessions[0]?.key;
        const row = key === undefined ? undefined : deps.store.findSession(name, key);
        const selected =
          key === undefined || row === undefined
            ? undefined
            : {
                key,
                transcript: deps.store.transcript(row.id),
                failed: deps.store.listMessages(row.id).filter((m) => m.status === 'failed'),
              };
        sendHtml(
          c.res,
          200,
          agentPage({
            viewer: c.viewer,
            name,
            agent: def instanceof CorralError ? undefined : def,
            ...(def instanceof CorralError ? { problem: def.message } : {}),
            sessions,
            ...(selected ? { selected } : {}),
          }),
        );
      },
    },
  ];

  const chat: PageRoute[] = [
    {
      // a file an agent sent with a reply: the same bytes as GET /v1/messages/ID/files/FILE, behind the login
      method: 'GET',
      path: /^\/ui\/files\/([0-9a-f-]{36})\/([0-9a-f-]{36})$/,
      handler: (c) => {
        const file = deps.messages.file(c.params[0] ?? '', c.params[1] ?? '');
        if (file === undefined) throw new HttpError(404, 'file_unknown', 'no such file');
        sendFileDownload(c.res, file);
      },
    },
    {
      method: 'GET',
      path: /^\/ui\/chat\/([^/]+)$/,
      handler: (c) => {
        const agent = agentName(c.params[0]);
        const thread = Thread.safeParse(c.url.searchParams.get('thread') ?? 'web');
        if (!thread.success) throw new HttpError(400, 'invalid_query', 'invalid thread');
        const entries = deps.messages.conversation(agent, 'web', thread.data);
        sendHtml(
          c.res,
          200,
          chatPage({ viewer: c.viewer, agent, thread: thread.data, entries, ...flashOf(c) }),
        );
      },
    },
    {
      method: 'POST',
      path: /^\/ui\/chat\/([^/]+)$/,
      changes: true,
      handler: async (c) => {
        const agent = agentName(c.params[0]);
        const thread = Thread.safeParse(c.form.get('thread') ?? 'web');
        const text = c.form.get('text') ?? '';
        if (!thread.success) throw new HttpError(400, 'invalid_body', 'invalid thread');
        if (text.trim().length === 0 || text.length > 100_000)
          throw new HttpError(400, 'invalid_body', 'write a message (at most 100,000 characters)');
        // the web channel: the same policy-checked intake as POST /v1/agents/{name}/messages, committed before
        // the answer; the sender is the logged-in operator
        const r = await deps.intake.submit(who(c), { agent, channel: 'web', thread: thread.data, text });
        const back = `${UI}/chat/${seg(agent)}?thread=${seg(thread.data)}`;
        switch (r.status) {
          case 'accepted':
            if (wantsJson(c.req)) return sendJson(c.res, 202, { id: r.message.id, status: r.message.status });
            return redirect(c.res, back);
          case 'held': {
            const message = `the message waits for approval ${r.approval} (${r.reason}); it is sent once approved`;
            if (wantsJson(c.req))
              return sendJson(c.res, 202, { status: 'held', approval: r.approval, message });
            return after(c, back, { ok: false, message });
          }
          case 'denied':
            if (wantsJson(c.req))
              return sendJson(c.res, 403, {
                error: { code: 'policy_denied', message: `message refused: ${r.reason}` },
              });
            return after(c, back, { ok: false, message: `message refused: ${r.reason}` });
        }
      },
    },
  ];

  const approvals: PageRoute[] = [
    {
      method: 'GET',
      path: /^\/ui\/approvals$/,
      handler: (c) => {
        const raw = c.url.searchParams.get('status') ?? 'pending';
        const status = APPROVAL_STATUSES.find((s) => s === raw);
        const rows = deps.governance.approvals.list(
          status === undefined ? { limit: 200 } : { status, limit: 200 },
        );
        sendHtml(
          c.res,
          200,
          approvalsPage({ viewer: c.viewer, rows, status: status ?? 'all', ...flashOf(c) }),
        );
      },
    },
    {
      method: 'POST',
      path: /^\/ui\/approvals\/(ap-[0-9a-f]{8})$/,
      changes: true,
      handler: (c) => {
        const id = c.params[0] ?? '';
        const decision = c.form.get('decision');
        if (decision !== 'approve' && decision !== 'deny')
          throw new HttpError(400, 'invalid_body', 'decision is approve or deny');
        let o: Outcome;
        try {
          const row =
            decision === 'approve'
              ? deps.governance.approvals.approve(id, who(c), { always: c.form.get('always') === '1' })
              : deps.governance.approvals.deny(id, who(c));
          o = { ok: true, message: `approval ${row.id} ${row.status}` };
        } catch (err) {
          if (!(err instanceof CorralError)) throw err;
          o = { ok: false, message: err.message };
        }
        after(c, `${UI}/approvals`, o);
      },
    },
  ];

  const auditFilters = (url: URL): AuditFilters => ({
    agent: (url.searchParams.get('agent') ?? '').trim().slice(0, 200),
    session: (url.searchParams.get('session') ?? '').trim().slice(0, 300),
    action: (url.searchParams.get('action') ?? '').trim().slice(0, 100),
  });
  const auditRows = (f: AuditFilters) =>
    deps.store.queryAudit({
      ...(f.agent ? { agent: f.agent } : {}),
      ...(f.session ? { session: f.session } : {}),
      ...(f.action ? { action: f.action } : {}),
      limit: AUDIT_LIMIT,
    });
  const audit: PageRoute[] = [
    {
      method: 'GET',
      path: /^\/ui\/audit$/,
      handler: (c) => {
        const filters = auditFilters(c.url);
        sendHtml(
          c.res,
          200,
          auditPage({ viewer: c.viewer, filters, rows: auditRows(filters), limit: AUDIT_LIMIT }),
        );
      },
    },
    {
      // reads only, so a viewer may verify too; a POST because it is a deliberate, costly action
      method: 'POST',
      path: /^\/ui\/audit\/verify$/,
      handler: (c) => {
        const verdict: Verdict = deps.store.verifyAudit();
        const filters = auditFilters(c.url);
        sendHtml(
          c.res,
          verdict.ok ? 200 : 409,
          auditPage({ viewer: c.viewer, filters, rows: auditRows(filters), limit: AUDIT_LIMIT, verdict }),
        );
      },
    },
  ];

  const usage: PageRoute = {
    method: 'GET',
    path: /^\/ui\/usage$/,
    handler: (c) => {
      const asked = Number(c.url.searchParams.get('days') ?? 14);
      const days = [7, 14, 30].includes(asked) ? asked : 14;
      sendHtml(c.res, 200, usagePage({ viewer: c.viewer, usage: usageByDay(deps, deps.now(), days), days }));
    },
  };

  const egress: PageRoute[] = [
    {
      method: 'GET',
      path: /^\/ui\/egress$/,
      handler: (c) => {
        const denials = deps.store.queryAudit({ action: 'egress.deny', limit: AUDIT_LIMIT });
        sendHtml(c.res, 200, egressPage({ viewer: c.viewer, denials, ...flashOf(c) }));
      },
    },
    {
      method: 'POST',
      path: /^\/ui\/egress\/allow$/,
      changes: true,
      handler: async (c) => {
        const agent = agentName(c.form.get('agent') ?? '');
        const pattern = (c.form.get('pattern') ?? '').trim();
        after(c, `${UI}/egress`, await allowHost(admin, who(c), agent, pattern));
      },
    },
  ];

  return [fleet, ...agentRoutes, ...chat, ...approvals, ...audit, usage, ...egress];
}
