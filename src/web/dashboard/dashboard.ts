// The dashboard under /ui on the API's port: login by the API token into a cookie session, then server-rendered
// pages. GETs need a session; every POST needs a same-origin Origin and the session's CSRF token, and anything
// that changes state an admin operator (a viewer reads only). The Bearer API is untouched by any of this.
import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ChannelStatus } from '../../channels/types.ts';
import type { HomePaths } from '../../config/home.ts';
import type { AgentCatalog } from '../../host/daemon/agent-catalog.ts';
import type { EventBus } from '../../host/daemon/events.ts';
import type { Intake } from '../../host/daemon/intake.ts';
import type { MessageService } from '../../host/daemon/messages.ts';
import type { Governance } from '../../host/authorize.ts';
import type { Router } from '../../host/queue/router.ts';
import type { Principal } from '../../policy/actions.ts';
import type { Store } from '../../store/types.ts';
import { CorralError, errorMessage } from '../../util/errors.ts';
import type { Logger } from '../../util/log.ts';
import { mayMethod } from '../auth.ts';
import { HttpError, sendJson } from '../http-util.ts';
import { streamEvents } from '../sse.ts';
import { checkCsrf, checkOrigin, readForm } from './guard.ts';
import { h } from './html.ts';
import type { Viewer } from './layout.ts';
import { page, problem, UI } from './layout.ts';
import { loginPage } from './pages/login.ts';
import { redirect, sendAsset, sendHtml } from './respond.ts';
import type { PageRoute } from './routes.ts';
import { pageRoutes } from './routes.ts';
import type { Sessions, WebSession } from './sessions.ts';
import { clearedCookie, createSessions, readCookie, SESSION_COOKIE, sessionCookie } from './sessions.ts';

export interface DashboardDeps {
  home: HomePaths;
  store: Store;
  catalog: AgentCatalog;
  router: Pick<Router, 'depths' | 'runningByAgent'>;
  messages: MessageService;
  intake: Intake;
  events: EventBus;
  governance: Governance;
  /** who a presented API token belongs to, or undefined: the same check the Bearer API makes */
  authenticate: (token: string) => Principal | undefined;
  log: Logger;
  /** the host's channels (Telegram, Slack, webhook) and their health, shown on the Fleet page */
  channels?: { statuses(): ChannelStatus[] };
  now?: () => Date;
  sessions?: Sessions;
}

const ASSETS: Record<string, string> = {
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};

function loadAssets(): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const name of Object.keys(ASSETS))
    out.set(name, fs.readFileSync(new URL(`./assets/${name}`, import.meta.url)));
  return out;
}

/** Paths the dashboard answers; everything else stays the Bearer API's. */
export const isDashboardPath = (pathname: string): boolean =>
  pathname === '/' || pathname === UI || pathname.startsWith(`${UI}/`);

export type DashboardHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>;

export function createDashboard(deps: DashboardDeps): DashboardHandler {
  const sessions = deps.sessions ?? createSessions();
  const now = deps.now ?? (() => new Date());
  const assets = loadAssets();
  const routes = pageRoutes({ ...deps, now });

  const sessionOf = (req: IncomingMessage): WebSession | undefined =>
    sessions.get(readCookie(req.headers.cookie, SESSION_COOKIE));
  const viewerOf = (s: WebSession): Viewer => ({
    principal: s.principal,
    csrf: s.csrf,
    pending: deps.store.listApprovals({ status: 'pending' }).length,
  });

  async function login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    checkOrigin(req);
    const form = await readForm(req, 4096);
    const principal = deps.authenticate((form.get('token') ?? '').trim());
    if (principal === undefined) {
      deps.store.appendAudit({ actor: 'web', action: 'dashboard.login_failed', subject: 'dashboard' });
      return sendHtml(res, 401, loginPage('That token is not valid.'));
    }
    const s = sessions.create(principal);
    deps.store.appendAudit({
      actor: principal.kind === 'operator' ? `operator:${principal.name}` : 'web',
      action: 'dashboard.login',
      subject: 'dashboard',
    });
    redirect(res, `${UI}/fleet`, { 'set-cookie': sessionCookie(s.id) });
  }

  async function handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const p = url.pathname;
    const method = req.method ?? 'GET';
    if (p === '/' || p === UI || p === `${UI}/`) return redirect(res, `${UI}/fleet`);
    const asset = /^\/ui\/static\/([a-z]+\.(?:js|css))$/.exec(p)?.[1];
    if (asset !== undefined && method === 'GET') {
      const body = assets.get(asset);
      const type = ASSETS[asset];
      if (body === undefined || type === undefined) throw new HttpError(404, 'not_found', 'no such file');
      return sendAsset(res, type, body);
    }
    if (p === `${UI}/login`) {
      if (method === 'POST') return login(req, res);
      if (sessionOf(req) !== undefined) return redirect(res, `${UI}/fleet`);
      return sendHtml(res, 200, loginPage());
    }
    if (method === 'POST') checkOrigin(req);
    const session = sessionOf(req);
    if (session === undefined) {
      if (method === 'GET') return redirect(res, `${UI}/login`);
      throw new HttpError(401, 'unauthorized', 'log in first', `open ${UI}/login`);
    }
    const form = method === 'POST' ? await readForm(req) : new URLSearchParams();
    if (method === 'POST') checkCsrf(req, session, form);
    if (p === `${UI}/logout` && method === 'POST') {
      sessions.destroy(session.id);
      return redirect(res, `${UI}/login`, { 'set-cookie': clearedCookie });
    }
    if (p === `${UI}/events` && method === 'GET') return streamEvents(req, res, deps.events, url);
    const viewer = viewerOf(session);
    for (const route of routes) {
      const m = route.path.exec(p);
      if (m === null || route.method !== method) continue;
      // a viewer reads only: the same rule (mayMethod) the Bearer API applies to its methods
      const role = session.principal.kind === 'operator' ? session.principal.role : 'viewer';
      if (route.method === 'POST' && route.changes === true && !mayMethod(role, 'POST'))
        throw new HttpError(403, 'forbidden', 'viewers cannot change anything', 'log in with an admin token');
      return route.handler({
        req,
        res,
        url,
        params: m.slice(1).map(decodeURIComponent),
        form,
        viewer,
        session,
      });
    }
    throw new HttpError(404, 'not_found', `no page ${p}`);
  }

  return async (req, res, url) => {
    try {
      await handle(req, res, url);
    } catch (err) {
      const e =
        err instanceof HttpError
          ? err
          : err instanceof CorralError
            ? new HttpError(err.code.endsWith('unknown') ? 404 : 400, err.code, err.message, err.hint)
            : undefined;
      if (e === undefined)
        deps.log.error('dashboard request failed', { url: url.pathname, err: errorMessage(err) });
      if (res.headersSent) return void res.destroy();
      const status = e?.status ?? 500;
      const message = e?.message ?? 'internal error; see the host log';
      if ((req.headers.accept ?? '').includes('application/json'))
        return sendJson(res, status, { error: { code: e?.code ?? 'internal', message } });
      sendHtml(
        res,
        status,
        page({
          title: 'Something went wrong',
          active: '',
          body: h`${problem(message, e?.hint)}
            <p><a href="${UI}/fleet">Back to the fleet</a></p>`,
        }),
      );
    }
  };
}

export type { PageRoute };
