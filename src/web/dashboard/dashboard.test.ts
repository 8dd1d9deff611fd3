// The dashboard in-process over the real store, catalog, router, intake and governance: login and sessions,
// CSRF and Origin checks, viewers, every page and form action (the browser end to end: test/e2e/dashboard.e2e.test.ts).
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadAgent } from '../../config/agent-files.ts';
import type { TestDashboard } from './test-harness.ts';
import { ADMIN_TOKEN, client, startTestDashboard, VIEWER_TOKEN } from './test-harness.ts';

let d: TestDashboard;
beforeEach(async () => {
  d = await startTestDashboard();
});
afterEach(async () => {
  await d.close();
});

const until = async (check: () => boolean, what: string): Promise<void> => {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
};

async function admin() {
  const c = client(d.base);
  expect((await c.login(ADMIN_TOKEN)).status).toBe(303);
  return { c, csrf: await c.csrf() };
}

describe('login and sessions', () => {
  it('sends a visitor without a session to the login page, and keeps the Bearer API as it was', async () => {
    const c = client(d.base);
    const page = await c.request('GET', '/ui/fleet');
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/ui/login');
    expect((await c.request('GET', '/')).headers.get('location')).toBe('/ui/fleet');
    const login = await c.request('GET', '/ui/login');
    expect(login.text).toContain('name="token"');
    expect(login.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect((await fetch(`${d.base}/healthz`)).status).toBe(401);
    const ok = await fetch(`${d.base}/healthz`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(ok.status).toBe(200);
    // a session cookie is no credential for the Bearer API
    expect((await c.login(ADMIN_TOKEN)).status).toBe(303);
    const api = await fetch(`${d.base}/v1/approvals`, { headers: { cookie: c.cookie() } });
    expect(api.status).toBe(401);
  });

  it('logs in with the token into an opaque HttpOnly, SameSite=Strict cookie, and out again', async () => {
    const c = client(d.base);
    const wrong = await c.login('not-the-token');
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    const res = await c.login(ADMIN_TOKEN);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/ui/fleet');
    const cookie = res.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^corral_session=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=\//);
    expect(cookie).not.toContain(ADMIN_TOKEN);
    const fleet = await c.request('GET', '/ui/fleet');
    expect(fleet.status).toBe(200);
    expect(fleet.text).toContain('alpha');
    expect(fleet.text).not.toContain(ADMIN_TOKEN);
    // a broken channel says so, and what to do
    expect(fleet.text).toMatch(/data-channel="tg"[\s\S]*state-failed[\s\S]*the bot token was revoked/);
    const csrf = await c.csrf();
    const out = await c.request('POST', '/ui/logout', { form: { _csrf: csrf } });
    expect(out.status).toBe(303);
    expect(out.headers.get('set-cookie')).toContain('Max-Age=0');
    c.setCookie(cookie.split(';')[0] ?? '');
    expect((await c.request('GET', '/ui/fleet')).status).toBe(303); // the old id is gone server-side
    expect(d.store.queryAudit({ action: 'dashboard' }).map((e) => e.action)).toEqual([
      'dashboard.login_failed',
      'dashboard.login',
    ]);
  });

  it('refuses a login from another origin or with no Origin', async () => {
    const c = client(d.base);
    const evil = await c.request('POST', '/ui/login', {
      form: { token: ADMIN_TOKEN },
      origin: 'http://evil.example',
    });
    expect(evil.status).toBe(403);
    const none = await c.request('POST', '/ui/login', { form: { token: ADMIN_TOKEN }, origin: null });
    expect(none.status).toBe(403);
    expect(none.headers.get('set-cookie')).toBeNull();
  });
});

describe('CSRF', () => {
  it('refuses a state-changing POST without the CSRF token, with a wrong one, or from another origin', async () => {
    const { c, csrf } = await admin();
    const bare = await c.request('POST', '/ui/agents/alpha/pause', { form: {} });
    expect(bare.status).toBe(403);
    expect(bare.text).toContain('CSRF');
    const wrong = await c.request('POST', '/ui/agents/alpha/pause', { form: { _csrf: csrf.slice(1) + 'x' } });
    expect(wrong.status).toBe(403);
    const foreign = await c.request('POST', '/ui/agents/alpha/pause', {
      form: { _csrf: csrf },
      origin: 'http://127.0.0.1:1',
    });
    expect(foreign.status).toBe(403);
    expect(loadAgent(d.home, 'alpha').paused).toBe(false);
    const ok = await c.request('POST', '/ui/agents/alpha/pause', { form: { _csrf: csrf } });
    expect(ok.status).toBe(303);
    expect(loadAgent(d.home, 'alpha').paused).toBe(true);
    // the header form, as the client script sends it
    const viaHeader = await c.request('POST', '/ui/agents/alpha/resume', {
      form: {},
      headers: { 'x-csrf-token': csrf, accept: 'application/json' },
    });
    expect(viaHeader.status).toBe(200);
    expect(loadAgent(d.home, 'alpha').paused).toBe(false);
  });

  it('keeps the CSRF token per session: another session’s token does not work', async () => {
    const a = await admin();
    const b = await admin();
    const cross = await b.c.request('POST', '/ui/agents/alpha/pause', { form: { _csrf: a.csrf } });
    expect(cross.status).toBe(403);
  });
});

describe('events', () => {
  it('streams the host events to a logged-in page only', async () => {
    const anon = await fetch(`${d.base}/ui/events?agent=alpha`, { redirect: 'manual' });
    expect(anon.status).toBe(303);
    const { c, csrf } = await admin();
    const ctl = new AbortController();
    const res = await fetch(`${d.base}/ui/events?agent=alpha`, {
      headers: { cookie: c.cookie() },
      signal: ctl.signal,
    });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const body = res.body;
    if (body === null) throw new Error('no body');
    await c.request('POST', '/ui/chat/alpha', { form: { text: 'streamed', thread: 'web', _csrf: csrf } });
    let text = '';
    const decoder = new TextDecoder();
    for await (const chunk of body) {
      const bytes: unknown = chunk;
      if (bytes instanceof Uint8Array) text += decoder.decode(bytes, { stream: true });
      if (text.includes('event: reply')) break;
    }
    ctl.abort();
    expect(text).toContain('event: message.accepted');
    expect(text).toContain('"text":"echo: streamed"');
  });
});

describe('viewers', () => {
  it('lets a viewer read every page but change nothing', async () => {
    const c = client(d.base);
    await c.login(VIEWER_TOKEN);
    const csrf = await c.csrf();
    const fleet = await c.request('GET', '/ui/fleet');
    expect(fleet.text).toContain('watcher (viewer)');
    expect(fleet.text).not.toContain('/ui/agents/alpha/edit');
    for (const p of [
      '/ui/approvals',
      '/ui/audit',
      '/ui/usage',
      '/ui/egress',
      '/ui/agents/alpha',
      '/ui/chat/alpha',
    ])
      expect((await c.request('GET', p)).status, p).toBe(200);
    for (const [p, form] of [
      ['/ui/agents/alpha/pause', {}],
      ['/ui/agents/alpha/delete', {}],
      ['/ui/chat/alpha', { text: 'hi', thread: 'web' }],
      ['/ui/egress/allow', { agent: 'alpha', pattern: 'example.com' }],
      ['/ui/agents/new', { yaml: 'name: b\nmodel: p:m\n' }],
    ] as const) {
      const r = await c.request('POST', p, { form: { ...form, _csrf: csrf } });
      expect(r.status, p).toBe(403);
    }
    expect(fs.existsSync(path.join(d.home.agentsDir, 'alpha.yaml'))).toBe(true);
    expect(loadAgent(d.home, 'alpha').paused).toBe(false);
    // reading the chain is not a change
    expect((await c.request('POST', '/ui/audit/verify', { form: { _csrf: csrf } })).status).toBe(200);
  });
});

describe('fleet and agents', () => {
  it('creates an agent from YAML, with the schema’s errors by line when it does not validate', async () => {
    const { c, csrf } = await admin();
    const bad = 'name: beta\nmodel: p:m\nmaxSteps: 0\n';
    const check = await c.request('POST', '/ui/agents/validate', {
      form: { yaml: bad },
      headers: { 'x-csrf-token': csrf, accept: 'application/json' },
    });
    expect(check.text).toMatch(/^\{"ok":false,"problems":\[\{"line":3,"message":"maxSteps: [^"]+"\}\]\}/);
    const refused = await c.request('POST', '/ui/agents/new', { form: { yaml: bad, _csrf: csrf } });
    expect(refused.status).toBe(400);
    expect(refused.text).toContain('line 3');
    expect(fs.existsSync(path.join(d.home.agentsDir, 'beta.yaml'))).toBe(false);
    const unknownProvider = await c.request('POST', '/ui/agents/new', {
      form: { yaml: 'name: beta\nmodel: nope:m\n', _csrf: csrf },
    });
    expect(unknownProvider.status).toBe(400);
    const yaml = '# the second agent\nname: beta\nmodel: p:m\n';
    const ok = await c.request('POST', '/ui/agents/new', { form: { yaml, _csrf: csrf } });
    expect(ok.status).toBe(303);
    expect(fs.readFileSync(path.join(d.home.agentsDir, 'beta.yaml'), 'utf8')).toBe(yaml);
    const dup = await c.request('POST', '/ui/agents/new', { form: { yaml, _csrf: csrf } });
    expect(dup.status).toBe(400);
    expect(dup.text).toContain('already exists');
    // edit: the name must stay the file's
    const rename = await c.request('POST', '/ui/agents/beta/edit', {
      form: { yaml: 'name: gamma\nmodel: p:m\n', _csrf: csrf },
    });
    expect(rename.status).toBe(400);
    const edited = await c.request('POST', '/ui/agents/beta/edit', {
      form: { yaml: 'name: beta\nmodel: p:m\nmaxSteps: 3\n', _csrf: csrf },
    });
    expect(edited.status).toBe(303);
    expect(loadAgent(d.home, 'beta').maxSteps).toBe(3);
    const del = await c.request('POST', '/ui/agents/beta/delete', { form: { _csrf: csrf } });
    expect(del.status).toBe(303);
    expect(fs.existsSync(path.join(d.home.agentsDir, 'beta.yaml'))).toBe(false);
    expect(d.store.queryAudit({ agent: 'beta', action: 'agent' }).map((e) => [e.action, e.actor])).toEqual([
      ['agent.add', 'operator:api'],
      ['agent.set', 'operator:api'],
      ['agent.rm', 'operator:api'],
    ]);
  });

  it('holds a paused agent’s messages in its queue and runs them once it is resumed', async () => {
    const { c, csrf } = await admin();
    await c.request('POST', '/ui/agents/alpha/pause', { form: { _csrf: csrf } });
    const fleet = () => c.request('GET', '/ui/fleet').then((r) => r.text);
    await until(() => true, 'nothing');
    // wait for the catalog to load the paused definition
    for (let i = 0; i < 100 && !(await fleet()).includes('state-paused'); i++)
      await new Promise((r) => setTimeout(r, 25));
    const sent = await c.request('POST', '/ui/chat/alpha', {
      form: { text: 'while paused', thread: 'web', _csrf: csrf },
      headers: { accept: 'application/json' },
    });
    expect(sent.status).toBe(202);
    const id = /"id":"([^"]+)"/.exec(sent.text)?.[1];
    if (typeof id !== 'string') throw new Error('no id');
    await new Promise((r) => setTimeout(r, 200));
    expect(d.store.getInbound(id)?.status).toBe('received');
    expect(await fleet()).toContain('paused, queued 1');
    await c.request('POST', '/ui/agents/alpha/resume', { form: { _csrf: csrf } });
    await until(() => d.store.getInbound(id)?.status === 'done', 'the held message to run');
    const chat = await c.request('GET', '/ui/chat/alpha?thread=web');
    expect(chat.text).toContain('echo: while paused');
  });

  it('escapes everything it shows: a message with markup comes back as text', async () => {
    const { c, csrf } = await admin();
    const evil = '<script>alert(1)</script><img src=x onerror=alert(2)>"\'';
    const sent = await c.request('POST', '/ui/chat/alpha', {
      form: { text: evil, thread: 'web', _csrf: csrf },
    });
    expect(sent.status).toBe(303);
    await until(() => d.store.queryAudit({ action: 'message.received' }).length === 1, 'the message');
    for (const p of ['/ui/chat/alpha?thread=web', '/ui/agents/alpha?session=web:web', '/ui/audit']) {
      const page = await c.request('GET', p);
      expect(page.text, p).not.toContain('<script>alert');
      expect(page.text, p).not.toContain('<img src=x');
    }
    const chat = await c.request('GET', '/ui/chat/alpha?thread=web');
    expect(chat.text).toContain(
      '&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;&quot;&#39;',
    );
  });

  it('shows the whole history of a session with tool calls and their output', async () => {
    d.store.ensureAgent('alpha');
    const session = d.store.openSession('alpha', 'api:t1');
    d.store.appendTranscript(session.id, [
      { role: 'user', content: [{ type: 'text', text: 'list files' }] },
      {
        role: 'assistant',
        content: [{ type: 'tool_use', id: 'c1', name: 'bash', input: { command: 'ls /' } }],
      },
      {
        role: 'user',
        content: [{ type: 'tool_result', toolUseId: 'c1', content: 'bin\netc', isError: false }],
      },
      { role: 'assistant', content: [{ type: 'text', text: 'bin and etc' }] },
    ]);
    d.store.appendAudit({
      actor: 'channel:api',
      action: 'message.received',
      subject: 'alpha',
      detail: { session: 'api:t1' },
    });
    const { c } = await admin();
    const page = await c.request('GET', '/ui/agents/alpha');
    expect(page.text).toContain('History of api:t1');
    expect(page.text).toContain('&quot;command&quot;: &quot;ls /&quot;');
    expect(page.text).toContain('bin\netc');
    expect(page.text).toContain('data-events="/ui/events?agent=alpha"');
  });
});

describe('approvals, audit, usage, egress', () => {
  it('shows a held action with its complete payload and approves it', async () => {
    const held = await d.governance.approvals.hold(
      {
        principal: { kind: 'agent', name: 'alpha' },
        action: 'egress',
        resource: 'pypi.org:443',
        payload: { host: 'pypi.org', port: 443, method: 'CONNECT', path: '' },
        decision: { effect: 'ask', reason: 'rule says ask', rule: 'r1' },
      },
      { waitMs: 0 },
    );
    const { c, csrf } = await admin();
    const page = await c.request('GET', '/ui/approvals');
    expect(page.text).toContain(held.id);
    expect(page.text).toContain('&quot;method&quot;: &quot;CONNECT&quot;');
    expect(page.text).toContain('Approvals <span class="badge">1</span>');
    const r = await c.request('POST', `/ui/approvals/${held.id}`, {
      form: { decision: 'approve', _csrf: csrf },
    });
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toBe('/ui/approvals');
    expect((await c.request('GET', '/ui/approvals')).text).toContain(`approval ${held.id} approved`);
    expect((await c.request('GET', '/ui/approvals')).text).not.toContain(`approval ${held.id} approved`);
    expect(d.governance.approvals.show(held.id)).toMatchObject({
      status: 'approved',
      decidedBy: 'operator:api',
    });
    const again = await c.request('POST', `/ui/approvals/${held.id}`, {
      form: { decision: 'deny', _csrf: csrf },
    });
    expect(again.status).toBe(303);
    expect((await c.request('GET', '/ui/approvals')).text).toContain('class="problem"');
  });

  it('filters the audit trail and verifies the chain, and says where it is broken', async () => {
    d.store.appendAudit({
      actor: 'agent:alpha',
      action: 'egress.deny',
      subject: 'a.example:443',
      detail: {},
    });
    d.store.appendAudit({ actor: 'host', action: 'run.done', subject: 'alpha', detail: { runId: 'r' } });
    const { c, csrf } = await admin();
    const filtered = await c.request('GET', '/ui/audit?action=egress');
    expect(filtered.text).toContain('a.example:443');
    expect(filtered.text).not.toContain('run.done');
    const ok = await c.request('POST', '/ui/audit/verify', { form: { _csrf: csrf } });
    expect(ok.text).toMatch(/Audit chain intact: \d+ entries/);
    // tamper with a row behind the store's back: the button must say so
    const Database = (await import('better-sqlite3')).default;
    const raw = new Database(path.join(d.home.root, 'corral.db'));
    raw.exec('DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete;');
    raw.prepare("UPDATE audit SET subject = 'b.example:443' WHERE action = 'egress.deny'").run();
    raw.close();
    const broken = await c.request('POST', '/ui/audit/verify', { form: { _csrf: csrf } });
    expect(broken.status).toBe(409);
    expect(broken.text).toContain('Audit chain broken at entry');
  });

  it('charts tokens and cost per day and shows what is left of a budget', async () => {
    const { c, csrf } = await admin();
    await c.request('POST', '/ui/agents/alpha/edit', {
      form: { yaml: 'name: alpha\nmodel: p:m\nbudget:\n  tokensPerDay: 1000\n', _csrf: csrf },
    });
    d.store.ensureAgent('alpha');
    d.store.recordUsage({
      agent: 'alpha',
      runId: null,
      provider: 'p',
      model: 'm',
      usage: { inputTokens: 300, outputTokens: 100, cacheReadTokens: 0, cacheWriteTokens: 0 },
    });
    let page = '';
    for (let i = 0; i < 100 && !page.includes('tokens per day'); i++) {
      page = (await c.request('GET', '/ui/usage?days=7')).text;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(page).toContain('<svg');
    expect(page).toMatch(/<rect\s+class="bar"[^>]*>\s*<title>\d\d-\d\d: 400<\/title>/);
    expect(page).toContain('600 left');
  });

  it('lists denials per agent and allows a host with the CLI’s own rule writer', async () => {
    d.store.appendAudit({
      actor: 'agent:alpha',
      action: 'egress.deny',
      subject: 'api.example.com:443',
      detail: { method: 'CONNECT', path: '', reason: 'not in the allowlist' },
    });
    const { c, csrf } = await admin();
    const page = await c.request('GET', '/ui/egress');
    expect(page.text).toContain('Allow api.example.com');
    const bad = await c.request('POST', '/ui/egress/allow', {
      form: { agent: 'alpha', pattern: '*', _csrf: csrf },
    });
    expect(bad.status).toBe(303);
    expect((await c.request('GET', '/ui/egress')).text).toContain('class="problem"');
    const r = await c.request('POST', '/ui/egress/allow', {
      form: { agent: 'alpha', pattern: 'api.example.com', _csrf: csrf },
    });
    expect(r.status).toBe(303);
    expect(loadAgent(d.home, 'alpha').allow).toEqual(['api.example.com']);
    expect(d.store.queryAudit({ action: 'agent.egress' })[0]).toMatchObject({
      actor: 'operator:api',
      subject: 'alpha',
      detail: { added: ['api.example.com'], removed: [] },
    });
  });
});
