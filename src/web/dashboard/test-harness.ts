// An in-process dashboard for tests: a temp $CORRAL_HOME, a real SQLite store, the real agent catalog, router,
// message intake and governance, the API handler with the dashboard mounted, on a loopback port. Turns are
// played by a stand-in that commits `echo: TEXT` at once (real sandboxes: test/e2e/dashboard.e2e.test.ts).
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { saveAgent } from '../../config/agent-files.ts';
import { saveConfig } from '../../config/config-file.ts';
import { resolveHome } from '../../config/home.ts';
import type { HomePaths } from '../../config/home.ts';
import { AgentConfig, defaultConfig } from '../../config/schema.ts';
import { createAgentCatalog } from '../../host/daemon/agent-catalog.ts';
import { createEventBus } from '../../host/daemon/events.ts';
import { createIntake } from '../../host/daemon/intake.ts';
import { createMessageService } from '../../host/daemon/messages.ts';
import { openGovernance } from '../../host/governance.ts';
import type { Governance } from '../../host/authorize.ts';
import { fakeSandboxes } from '../../host/pool/fake-sandboxes.ts';
import { createSandboxPool } from '../../host/pool/sandbox-pool.ts';
import { createRouter } from '../../host/queue/router.ts';
import type { Router } from '../../host/queue/router.ts';
import type { Principal } from '../../policy/actions.ts';
import { openSqliteStore } from '../../store/sqlite.ts';
import type { Store } from '../../store/types.ts';
import { systemClock } from '../../util/clock.ts';
import { silentLogger } from '../../util/log.ts';
import { createApiHandler } from '../server.ts';
import { createDashboard } from './dashboard.ts';
import { createSessions } from './sessions.ts';

export const ADMIN_TOKEN = 'admin-token-0123456789abcdefghijklmnopqrstuv';
export const VIEWER_TOKEN = 'viewer-token-0123456789abcdefghijklmnopqrstu';

/** What the stand-in turn sends with its reply to 'send a file' (as the send_file tool would). */
const TEST_FILE_BYTES = Buffer.from('%PDF-1.4 not really');
export const TEST_FILE = {
  id: '6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b',
  name: '<b>report</b>.pdf',
  mime: 'application/pdf',
  size: TEST_FILE_BYTES.length,
  sha256: createHash('sha256').update(TEST_FILE_BYTES).digest('hex'),
  caption: 'Q3',
  content: TEST_FILE_BYTES,
};

export interface TestDashboard {
  base: string;
  home: HomePaths;
  store: Store;
  router: Router;
  governance: Governance;
  close(): Promise<void>;
}

export async function startTestDashboard(): Promise<TestDashboard> {
  const home = resolveHome({ CORRAL_HOME: fs.mkdtempSync(path.join(os.tmpdir(), 'corral-dash-')) });
  fs.mkdirSync(home.agentsDir, { recursive: true });
  const config = defaultConfig();
  saveConfig(home, {
    ...config,
    providers: {
      ...config.providers,
      p: { kind: 'anthropic', baseUrl: 'http://127.0.0.1:9', keySecret: 'K' },
    },
  });
  saveAgent(home, AgentConfig.parse({ name: 'alpha', model: 'p:m' }));
  const store = openSqliteStore({ path: path.join(home.root, 'corral.db'), secretKey: randomBytes(32) });
  const events = createEventBus({ clock: systemClock });
  const routerRef: { current?: Router } = {};
  const catalog = createAgentCatalog({
    home,
    log: silentLogger,
    debounceMs: 20,
    onChange: (c) => {
      if (c.type === 'loaded') routerRef.current?.resume(c.agent.name);
    },
  });
  catalog.start();
  const sb = fakeSandboxes();
  const pool = createSandboxPool({
    maxSandboxes: 2,
    maxPerAgent: 2,
    idleMs: 60_000,
    clock: systemClock,
    log: silentLogger,
    start: sb.start,
  });
  const router = createRouter({
    pool,
    log: silentLogger,
    agent: (name) => catalog.get(name),
    run: ({ message }) => {
      const m = store.startMessage(message.id);
      const run = store.startRun({ sessionId: m.sessionId, messageId: m.id });
      const reply = `echo: ${m.text}`;
      store.completeMessage({
        messageId: m.id,
        runId: run.id,
        transcript: [
          { role: 'user', content: [{ type: 'text', text: m.text }] },
          { role: 'assistant', content: [{ type: 'text', text: reply }] },
        ],
        reply,
        stopReason: 'end',
        cancelled: false,
        outbox: [],
        files: m.text === 'send a file' ? [TEST_FILE] : [],
      });
      events.publish({ type: 'reply', agent: m.agent, messageId: m.id, thread: 'web', text: reply });
      return Promise.resolve('done');
    },
    fail: () => undefined,
  });
  routerRef.current = router;
  const messages = createMessageService({ store, router, catalog, events, draining: () => false });
  const governance = openGovernance(home, store);
  const intake = createIntake({ gov: governance, agent: (n) => catalog.get(n), messages, log: silentLogger });
  const principals: Record<string, Principal> = {
    [ADMIN_TOKEN]: { kind: 'operator', name: 'api', role: 'admin' },
    [VIEWER_TOKEN]: { kind: 'operator', name: 'watcher', role: 'viewer' },
  };
  const handler = createApiHandler({
    token: ADMIN_TOKEN,
    log: silentLogger,
    messages,
    intake,
    events,
    metrics: () => '',
    health: () => ({ status: 'ok' }),
    dashboard: createDashboard({
      home,
      store,
      catalog,
      router,
      messages,
      intake,
      events,
      governance,
      log: silentLogger,
      sessions: createSessions(),
      channels: {
        statuses: () => [
          {
            name: 'tg',
            kind: 'telegram',
            state: 'failed',
            since: new Date().toISOString(),
            detail: 'Unauthorized: the bot token was revoked',
            fix: 'corral channel add telegram tg --token …',
          },
        ],
      },
      authenticate: (t) => principals[t],
    }),
  });
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address: AddressInfo | string | null = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return {
    base: `http://127.0.0.1:${address.port}`,
    home,
    store,
    router,
    governance,
    close: async () => {
      catalog.close();
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
      store.close();
      fs.rmSync(home.root, { recursive: true, force: true });
    },
  };
}

/** A browser-like client: keeps the session cookie, sends Origin, and can pick the CSRF token off a page. */
export function client(base: string) {
  let cookie = '';
  const request = async (
    method: string,
    p: string,
    opts: { form?: Record<string, string>; origin?: string | null; headers?: Record<string, string> } = {},
  ) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (cookie) headers['cookie'] = cookie;
    if (opts.origin !== null && method !== 'GET') headers['origin'] = opts.origin ?? base;
    if (opts.form !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(base + p, {
      method,
      headers,
      redirect: 'manual',
      ...(opts.form === undefined ? {} : { body: new URLSearchParams(opts.form).toString() }),
    });
    const set = res.headers.get('set-cookie');
    if (set !== null) cookie = set.split(';')[0] ?? '';
    return { status: res.status, headers: res.headers, text: await res.text() };
  };
  return {
    request,
    setCookie: (c: string) => void (cookie = c),
    cookie: () => cookie,
    async login(token: string) {
      return request('POST', '/ui/login', { form: { token } });
    },
    /** The CSRF token of the logged-in session, as a page carries it. */
    async csrf(): Promise<string> {
      const page = await request('GET', '/ui/fleet');
      const m = /<meta name="csrf-token" content="([^"]+)"\s*\/?>/.exec(page.text);
      if (m?.[1] === undefined) throw new Error(`no CSRF token on the page (status ${page.status})`);
      return m[1];
    },
  };
}
