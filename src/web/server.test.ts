// The HTTP API in-process over the real message service, store and router; turns are played by a stand-in that
// commits a reply at once (the sandboxes are covered end to end in test/e2e/daemon.e2e.test.ts).
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type { Server } from 'node:http';
import { createServer } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { saveAgent } from '../config/agent-files.ts';
import { resolveHome } from '../config/home.ts';
import { AgentConfig } from '../config/schema.ts';
import { createAgentCatalog } from '../host/daemon/agent-catalog.ts';
import { createEventBus } from '../host/daemon/events.ts';
import { createIntake } from '../host/daemon/intake.ts';
import { createMessageService } from '../host/daemon/messages.ts';
import { openGovernance } from '../host/governance.ts';
import { fakeSandboxes } from '../host/pool/fake-sandboxes.ts';
import { createSandboxPool } from '../host/pool/sandbox-pool.ts';
import { createRouter } from '../host/queue/router.ts';
import { openSqliteStore } from '../store/sqlite.ts';
import type { Store } from '../store/types.ts';
import { systemClock } from '../util/clock.ts';
import { silentLogger } from '../util/log.ts';
import { approvalRoutes } from './approvals.ts';
import { sha256Hex } from './auth.ts';
import { createApiHandler } from './server.ts';

const TOKEN = 'test-token-0123456789abcdefghijklmnopqrstuv';
/** what the stand-in turn sends with its reply to 'send a file' (as send_file would) */
const fileBytes = Buffer.from('<html><script>alert(1)</script></html>');
const sentFile = {
  id: '0b9f3c52-7d4e-4f7a-9d8e-1c2b3a4d5e6f',
  name: 'päge "1"(2).html',
  mime: 'text/html',
  size: fileBytes.length,
  sha256: createHash('sha256').update(fileBytes).digest('hex'),
  caption: 'a page',
  content: fileBytes,
};
let server: Server;
let base: string;
let store: Store;
let cleanup: () => void;
let hold: Promise<void> = Promise.resolve();
let draining = false;
let policyFile = '';
const VIEWER_TOKEN = 'viewer-token-0123456789abcdefghijklmnopqrs';
const ADMIN_TOKEN = 'admin-token-0123456789abcdefghijklmnopqrst';

beforeEach(async () => {
  const home = resolveHome({ CORRAL_HOME: fs.mkdtempSync(path.join(os.tmpdir(), 'corral-api-')) });
  fs.mkdirSync(home.agentsDir, { recursive: true });
  saveAgent(home, AgentConfig.parse({ name: 'alpha', model: 'p:m' }));
  store = openSqliteStore({ path: ':memory:', secretKey: randomBytes(32) });
  const catalog = createAgentCatalog({ home, log: silentLogger });
  catalog.start();
  const events = createEventBus({ clock: systemClock });
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
    run: async ({ message }) => {
      await hold;
      const m = store.startMessage(message.id);
      const run = store.startRun({ sessionId: m.sessionId, messageId: m.id });
      const reply = `echo: ${m.text}`;
      store.completeMessage({
        messageId: m.id,
        runId: run.id,
        transcript: [],
        reply,
        stopReason: 'end',
        cancelled: false,
        outbox: [],
        files: m.text === 'send a file' ? [sentFile] : [],
      });
      events.publish({ type: 'reply', agent: m.agent, messageId: m.id, thread: 'default', text: reply });
      return 'done';
    },
    fail: () => undefined,
  });
  const messages = createMessageService({ store, router, catalog, events, draining: () => draining });
  policyFile = home.policyFile;
  const gov = openGovernance(home, store);
  const intake = createIntake({ gov, agent: (n) => catalog.get(n), messages, log: silentLogger });
  const handler = createApiHandler({
    token: TOKEN,
    policy: gov.policy,
    log: silentLogger,
    messages,
    intake,
    extraRoutes: approvalRoutes({ approvals: gov.approvals }),
    events,
    metrics: () => 'corral_up 1\n',
    health: () => ({ status: 'ok' }),
    maxBodyBytes: 4096,
  });
  server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  base = `http://127.0.0.1:${addr !== null && typeof addr === 'object' ? addr.port : 0}`;
  cleanup = () => {
    catalog.close();
    store.close();
    fs.rmSync(home.root, { recursive: true, force: true });
  };
  draining = false;
  hold = Promise.resolve();
});
afterEach(async () => {
  await new Promise<void>((r) => {
    server.closeAllConnections();
    server.close(() => r());
  });
  await new Promise((r) => setTimeout(r, 20)); // let queued turns settle before the store closes
  cleanup();
});

const auth = { authorization: `Bearer ${TOKEN}` };
const post = (p: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(base + p, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
const get = (p: string) => fetch(base + p, { headers: auth });

async function waitDone(id: string): Promise<Record<string, unknown>> {
  for (let i = 0; i < 100; i++) {
    const body: unknown = await (await get(`/v1/messages/${id}`)).json();
    if (typeof body === 'object' && body !== null && 'status' in body && body.status === 'done')
      return { ...body };
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('not done');
}

describe('HTTP API', () => {
  it('refuses every route without the right bearer token', async () => {
    for (const p of ['/healthz', '/metrics', '/v1/events', '/v1/messages/x', '/nowhere']) {
      const none = await fetch(base + p);
      expect(none.status, p).toBe(401);
      expect(none.headers.get('www-authenticate')).toContain('Bearer');
      const wrong = await fetch(base + p, { headers: { authorization: `Bearer ${TOKEN}x` } });
      expect(wrong.status, p).toBe(401);
    }
    expect(await (await fetch(base + '/healthz')).json()).toMatchObject({ error: { code: 'unauthorized' } });
  });

  it('accepts a message with 202 and its id, then reports it done with the reply', async () => {
    const res = await post('/v1/agents/alpha/messages', { text: 'hello', thread: 't1' });
    expect(res.status).toBe(202);
    const { id } = z(await res.json());
    expect(res.headers.get('location')).toBe(`/v1/messages/${id}`);
    const m = await waitDone(id);
    expect(m).toMatchObject({ id, agent: 'alpha', thread: 't1', status: 'done', reply: 'echo: hello' });
    const conv: unknown = await (await get('/v1/agents/alpha/messages?thread=t1')).json();
    expect(conv).toMatchObject({
      thread: 't1',
      messages: [
        { role: 'user', text: 'hello', status: 'done' },
        { role: 'assistant', text: 'echo: hello' },
      ],
    });
    const other: unknown = await (await get('/v1/agents/alpha/messages')).json();
    expect(other).toMatchObject({ thread: 'default', messages: [] });
  });

  it('lists the files sent with a reply and serves each as an inert download, behind the token', async () => {
    const { id } = z(await (await post('/v1/agents/alpha/messages', { text: 'send a file' })).json());
    const m = await waitDone(id);
    const url = `/v1/messages/${id}/files/${sentFile.id}`;
    const { content: _content, ...meta } = sentFile;
    expect(m['files']).toEqual([{ ...meta, messageId: id, url }]);
    const res = await get(url);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(fileBytes)).toBe(true);
    expect(res.headers.get('content-type')).toBe('text/html');
    expect(res.headers.get('content-disposition')).toBe(
      `attachment; filename="p_ge _1_(2).html"; filename*=UTF-8''p%C3%A4ge%20%221%22%282%29.html`,
    );
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-security-policy')).toContain('sandbox');
    expect(res.headers.get('x-corral-sha256')).toBe(sentFile.sha256);
    expect((await fetch(base + url)).status).toBe(401);
    const other = z(await (await post('/v1/agents/alpha/messages', { text: 'no file' })).json()).id;
    await waitDone(other);
    expect((await get(`/v1/messages/${other}/files/${sentFile.id}`)).status).toBe(404);
    expect((await get(`/v1/messages/${id}/files/../../healthz`)).status).toBe(404);
    const conv: unknown = await (await get('/v1/agents/alpha/messages')).json();
    expect(conv).toMatchObject({
      messages: [
        { role: 'user', text: 'send a file' },
        { role: 'assistant', files: [{ name: sentFile.name, url }] },
        { role: 'user', text: 'no file' },
        { role: 'assistant', text: 'echo: no file' },
      ],
    });
  });

  it('shows a queued message’s place', async () => {
    let release: () => void = () => undefined;
    hold = new Promise((r) => (release = r));
    const ids = [];
    for (const text of ['a', 'b', 'c'])
      ids.push(z(await (await post('/v1/agents/alpha/messages', { text })).json()).id);
    const third: unknown = await (await get(`/v1/messages/${ids[2] ?? ''}`)).json();
    expect(third).toMatchObject({ status: 'queued', queue: { position: 2, waitingForSandbox: null } });
    release();
    for (const id of ids) await waitDone(id);
  });

  it('answers bad requests with clear JSON errors', async () => {
    const cases: [Promise<Response>, number, string][] = [
      [post('/v1/agents/ghost/messages', { text: 'x' }), 404, 'agent_unknown'],
      [post('/v1/agents/Bad..Name/messages', { text: 'x' }), 404, 'agent_unknown'],
      [post('/v1/agents/alpha/messages', '{nope'), 400, 'invalid_json'],
      [post('/v1/agents/alpha/messages', { text: '' }), 400, 'invalid_body'],
      [post('/v1/agents/alpha/messages', { text: 'x', extra: 1 }), 400, 'invalid_body'],
      [post('/v1/agents/alpha/messages', { text: 'x', callback: 'file:///etc/passwd' }), 400, 'invalid_body'],
      [post('/v1/agents/alpha/messages', { text: 'x', thread: '../etc' }), 400, 'invalid_body'],
      [post('/v1/agents/alpha/messages', { text: 'x'.repeat(5000) }), 413, 'body_too_large'],
      [
        post('/v1/agents/alpha/messages', 'text=x', { 'content-type': 'text/plain' }),
        415,
        'unsupported_media_type',
      ],
      [get('/v1/messages/not-a-uuid'), 404, 'message_unknown'],
      [get('/v1/messages/00000000-0000-4000-8000-000000000000'), 404, 'message_unknown'],
      [fetch(base + '/v1/messages/x', { method: 'DELETE', headers: auth }), 405, 'method_not_allowed'],
      [get('/v2/anything'), 404, 'not_found'],
    ];
    for (const [res, status, code] of cases) {
      const r = await res;
      expect(r.status, code).toBe(status);
      expect(await r.json(), code).toMatchObject({ error: { code } });
    }
  });

  it('refuses new messages while draining, with Retry-After', async () => {
    draining = true;
    const r = await post('/v1/agents/alpha/messages', { text: 'late' });
    expect(r.status).toBe(503);
    expect(r.headers.get('retry-after')).toBe('5');
    expect(await r.json()).toMatchObject({ error: { code: 'draining' } });
  });

  it('streams events as SSE, replaying what a reconnecting client missed', async () => {
    const { id } = z(await (await post('/v1/agents/alpha/messages', { text: 'sse' })).json());
    await waitDone(id);
    const ac = new AbortController();
    const res = await fetch(base + '/v1/events', {
      headers: { ...auth, 'last-event-id': '0' },
      signal: ac.signal,
    });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    let text = '';
    const decoder = new TextDecoder();
    for await (const chunk of res.body ?? []) {
      if (chunk instanceof Uint8Array) text += decoder.decode(chunk, { stream: true });
      if (text.includes('event: reply')) break;
    }
    ac.abort();
    expect(text).toMatch(/id: 1\nevent: message\.accepted\ndata: \{.*"messageId":"[^"]+"/);
    expect(text).toContain(`"text":"echo: sse"`);
  });

  it('admits operators of policy.yaml by token: a viewer reads, but any change is 403 naming the role', async () => {
    fs.writeFileSync(
      policyFile,
      `version: 1\noperators:\n  vera: { role: viewer, tokenSha256: ${sha256Hex(VIEWER_TOKEN)} }\n` +
        `  ada: { role: admin, tokenSha256: ${sha256Hex(ADMIN_TOKEN)} }\n`,
    );
    const as = (token: string, method = 'GET', p = '/healthz') =>
      fetch(base + p, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(method === 'POST' ? { body: JSON.stringify({ text: 'hi' }) } : {}),
      });
    expect((await as(VIEWER_TOKEN)).status).toBe(200);
    expect((await as(VIEWER_TOKEN, 'GET', '/v1/approvals')).status).toBe(200);
    for (const p of ['/v1/agents/alpha/messages', '/v1/approvals/ap-00000000']) {
      const r = await as(VIEWER_TOKEN, 'POST', p);
      expect(r.status, p).toBe(403);
      const text = JSON.stringify(await r.json());
      expect(text).toContain('"code":"forbidden_role"');
      expect(text).toContain('has role viewer');
    }
    const admin = await as(ADMIN_TOKEN, 'POST', '/v1/agents/alpha/messages');
    expect(admin.status).toBe(202);
    await waitDone(z(await admin.json()).id);
    expect((await as(`${VIEWER_TOKEN}x`)).status).toBe(401);
    // a broken policy admits nobody but the api-token holder
    fs.writeFileSync(policyFile, 'version: 1\noperators: [\n');
    expect((await as(ADMIN_TOKEN)).status).toBe(401);
    expect((await get('/healthz')).status).toBe(200);
  });

  it('decides each message by policy: a deny rule answers 403 with the rule, an ask holds it', async () => {
    fs.writeFileSync(
      policyFile,
      'version: 1\nrules:\n  - { id: no-api, effect: deny, action: message.send, principal: operator:api, resource: agent:alpha }\n',
    );
    const denied = await post('/v1/agents/alpha/messages', { text: 'x' });
    expect(denied.status).toBe(403);
    const text = JSON.stringify(await denied.json());
    expect(text).toContain('"code":"policy_denied"');
    expect(text).toContain('(rule no-api)');
    fs.writeFileSync(
      policyFile,
      'version: 1\nrules:\n  - { id: check, effect: ask, action: message.send, principal: operator:api }\n',
    );
    const held = await post('/v1/agents/alpha/messages', { text: 'wait for me' });
    expect(held.status).toBe(202);
    const body: unknown = await held.json();
    expect(JSON.stringify(body)).toMatch(/"status":"held","approval":"ap-[0-9a-f]{8}"/);
    expect(store.listApprovals({ status: 'pending' })[0]?.payload).toMatchObject({ text: 'wait for me' });
  });

  it('serves health and Prometheus metrics', async () => {
    expect(await (await get('/healthz')).json()).toEqual({ status: 'ok' });
    const metrics = await get('/metrics');
    expect(metrics.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    expect(await metrics.text()).toBe('corral_up 1\n');
  });
});

function z(body: unknown): { id: string } {
  if (typeof body === 'object' && body !== null && 'id' in body && typeof body.id === 'string')
    return { id: body.id };
  throw new Error(`no id in ${JSON.stringify(body)}`);
}
