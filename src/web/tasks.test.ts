// The task routes through the whole API handler (bearer auth, roles, routing, body limit) on a loopback server,
// over a real SQLite store, the real policy file and the agent catalog: list, add, pause, resume, remove, with
// the 400s, 403s, 404s and 409s a client sees, and the audit trail each change leaves.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type { Server } from 'node:http';
import { createServer } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { messageServiceForTest } from '../../test/fixtures/message-service.ts';
import { saveAgent } from '../config/agent-files.ts';
import { resolveHome } from '../config/home.ts';
import { AgentConfig } from '../config/schema.ts';
import { createIntake } from '../host/daemon/intake.ts';
import { openGovernance } from '../host/governance.ts';
import { reconcileDeclared } from '../host/schedule/declared.ts';
import { openSqliteStore } from '../store/sqlite.ts';
import type { Store } from '../store/types.ts';
import { silentLogger } from '../util/log.ts';
import { sha256Hex } from './auth.ts';
import { createApiHandler } from './server.ts';
import { taskRoutes } from './tasks.ts';

const TOKEN = 'test-token-0123456789abcdefghijklmnopqrstuv';
const VIEWER = 'viewer-token-0123456789abcdefghijklmnopqrs';
const ADMIN = 'admin-token-0123456789abcdefghijklmnopqrst';
const NOW = Date.parse('2026-05-01T00:00:00.000Z');

let server: Server;
let base: string;
let store: Store;
let refreshed: number;
let cleanup: () => void;

beforeEach(async () => {
  const home = resolveHome({ CORRAL_HOME: fs.mkdtempSync(path.join(os.tmpdir(), 'corral-api-tasks-')) });
  fs.mkdirSync(home.agentsDir, { recursive: true });
  saveAgent(home, AgentConfig.parse({ name: 'alpha', model: 'p:m' }));
  fs.writeFileSync(path.join(home.agentsDir, 'broken.yaml'), 'name: broken\nmodel: 12\n');
  fs.writeFileSync(
    home.policyFile,
    `version: 1\noperators:\n  vera: { role: viewer, tokenSha256: ${sha256Hex(VIEWER)} }\n` +
      `  ada: { role: admin, tokenSha256: ${sha256Hex(ADMIN)} }\n`,
  );
  store = openSqliteStore({ path: ':memory:', secretKey: randomBytes(32) });
  store.ensureAgent('alpha');
  const { catalog, events, messages } = messageServiceForTest({ home, store });
  const gov = openGovernance(home, store);
  refreshed = 0;
  const handler = createApiHandler({
    token: TOKEN,
    policy: gov.policy,
    log: silentLogger,
    messages,
    intake: createIntake({ gov, agent: (n) => catalog.get(n), messages, log: silentLogger }),
    events,
    metrics: () => '',
    health: () => ({ status: 'ok' }),
    extraRoutes: taskRoutes({
      tasks: { store, gov, now: () => new Date(NOW) },
      agent: (name) => catalog.get(name),
      refresh: () => void refreshed++,
      maxBodyBytes: 4096,
    }),
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
});
afterEach(async () => {
  await new Promise<void>((r) => {
    server.closeAllConnections();
    server.close(() => r());
  });
  cleanup();
});

const call = async (method: string, p: string, body?: unknown, token = TOKEN) => {
  const res = await fetch(base + p, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const json: unknown = await res.json();
  return {
    status: res.status,
    body: json,
    text: JSON.stringify(json),
    location: res.headers.get('location'),
  };
};
const Task = z.object({
  id: z.string(),
  agent: z.string(),
  kind: z.string(),
  schedule: z.string(),
  paused: z.boolean(),
  nextRunAt: z.string().nullable(),
  createdBy: z.string(),
  source: z.string(),
});
const Tasks = z.object({ tasks: z.array(Task) });

describe('task routes', () => {
  it('adds, lists, pauses, resumes and removes a task, audited with the operator who did it', async () => {
    const added = await call(
      'POST',
      '/v1/agents/alpha/tasks',
      { prompt: 'check', every: '30m', missed: 'skip' },
      ADMIN,
    );
    expect(added.status, added.text).toBe(201);
    const t = Task.parse(added.body);
    expect(t).toMatchObject({
      agent: 'alpha',
      kind: 'every',
      schedule: '1800000',
      createdBy: 'operator:ada',
      source: 'added',
      nextRunAt: '2026-05-01T00:30:00.000Z',
    });
    expect(added.location).toBe(`/v1/tasks/${t.id}`);
    const cron = Task.parse(
      (await call('POST', '/v1/agents/alpha/tasks', { prompt: 'daily', cron: '0 9 * * *', tz: 'UTC' })).body,
    );
    expect(cron.nextRunAt).toBe('2026-05-01T09:00:00.000Z');

    expect(
      Tasks.parse((await call('GET', '/v1/tasks', undefined, VIEWER)).body).tasks.map((x) => x.id),
    ).toEqual([t.id, cron.id]);
    expect(Tasks.parse((await call('GET', '/v1/tasks?agent=beta')).body).tasks).toEqual([]);
    expect((await call('GET', '/v1/agents/alpha/tasks', undefined, VIEWER)).body).toMatchObject({
      agent: 'alpha',
      tasks: [{ id: t.id }, { id: cron.id }],
    });
    expect((await call('GET', `/v1/tasks/${t.id}`)).body).toMatchObject({ id: t.id, prompt: 'check' });

    expect((await call('POST', `/v1/tasks/${t.id}/pause`, undefined, ADMIN)).body).toMatchObject({
      paused: true,
    });
    expect((await call('POST', `/v1/tasks/${t.id}/resume`)).body).toMatchObject({
      paused: false,
      nextRunAt: '2026-05-01T00:30:00.000Z',
    });
    const removed = await call('DELETE', `/v1/tasks/${t.id}`, undefined, ADMIN);
    expect(removed.body).toMatchObject({ removed: { id: t.id } });
    expect((await call('GET', `/v1/tasks/${t.id}`)).status).toBe(404);
    expect(refreshed).toBe(5);
    const trail = store
      .listAudit({ limit: 100 })
      .filter((e) => e.action.startsWith('task.'))
      .map((e) => `${e.actor} ${e.action}`);
    expect(trail).toEqual([
      'operator:ada task.create',
      'operator:api task.create',
      'operator:ada task.pause',
      'operator:api task.resume',
      'operator:ada task.remove',
    ]);
  });

  it('refuses a viewer and an unknown token before anything changes', async () => {
    const t = Task.parse((await call('POST', '/v1/agents/alpha/tasks', { prompt: 'p', every: '1h' })).body);
    for (const [method, p] of [
      ['POST', '/v1/agents/alpha/tasks'],
      ['POST', `/v1/tasks/${t.id}/pause`],
      ['POST', `/v1/tasks/${t.id}/resume`],
      ['DELETE', `/v1/tasks/${t.id}`],
    ] as const) {
      const r = await call(method, p, method === 'POST' ? { prompt: 'x', every: '1h' } : undefined, VIEWER);
      expect(r.status, `${method} ${p}`).toBe(403);
      expect(r.text).toContain('"code":"forbidden_role"');
      expect((await call('GET', '/v1/tasks', undefined, 'nobody')).status).toBe(401);
    }
    expect(Tasks.parse((await call('GET', '/v1/tasks')).body).tasks).toEqual([t]);
  });

  it.each([
    [{ prompt: 'p', cron: '61 * * * *' }, 'invalid_cron', 'minute field: 61 is out of range 0-59'],
    [
      { prompt: 'p', cron: '@daily', tz: 'Mars/Olympus' },
      'invalid_time_zone',
      "unknown time zone 'Mars/Olympus'",
    ],
    [{ prompt: 'p', every: 'soon' }, 'invalid_argument', "every 'soon' is not a duration"],
    [{ prompt: 'p', every: '1h', at: '+1m' }, 'invalid_argument', 'give only one of cron, every and at'],
    [
      { prompt: 'p', at: '2020-01-01T00:00:00Z' },
      'invalid_argument',
      'at 2020-01-01T00:00:00.000Z is in the past',
    ],
    [{ prompt: 'p' }, 'invalid_argument', 'a task needs a schedule'],
    [{ every: '1h' }, 'invalid_body', 'prompt: '],
    [{ prompt: 'p', every: '1h', when: 'now' }, 'invalid_body', 'Unrecognized key'],
    ['{"prompt":', 'invalid_json', 'not valid JSON'],
  ])('answers 400 for %j', async (body, code, message) => {
    const r = await call('POST', '/v1/agents/alpha/tasks', body);
    expect(r.status, r.text).toBe(400);
    expect(r.body).toMatchObject({ error: { code } });
    expect(r.text).toContain(message);
    expect(r.text).not.toContain('--'); // the body's fields, not the CLI's flags
    expect(store.listTasks()).toEqual([]);
  });

  it('answers 404 for unknown agents and tasks, 409 for a broken agent or a declared task, 413 for a large body', async () => {
    const cases: [string, string, number, string][] = [
      ['GET', '/v1/agents/ghost/tasks', 404, 'agent_unknown'],
      ['POST', '/v1/agents/ghost/tasks', 404, 'agent_unknown'],
      ['POST', '/v1/agents/..%2Fetc/tasks', 404, 'agent_unknown'],
      ['POST', '/v1/agents/broken/tasks', 409, 'agent_invalid'],
      ['GET', '/v1/tasks/t-00000000', 404, 'task_unknown'],
      ['GET', '/v1/tasks/nope', 404, 'task_unknown'],
      ['POST', '/v1/tasks/t-00000000/pause', 404, 'task_unknown'],
      ['DELETE', '/v1/tasks/t-00000000', 404, 'task_unknown'],
      ['GET', '/v1/tasks?agent=..', 400, 'invalid_query'],
      ['PUT', '/v1/tasks', 405, 'method_not_allowed'],
    ];
    for (const [method, p, status, code] of cases) {
      const r = await call(method, p, method === 'POST' ? { prompt: 'p', every: '1h' } : undefined);
      expect([r.status, r.body], `${method} ${p}`).toMatchObject([status, { error: { code } }]);
    }
    expect((await call('GET', '/v1/agents/broken/tasks')).body).toEqual({ agent: 'broken', tasks: [] });

    const [declared] = reconcileDeclared({ store, now: () => new Date(NOW) }, 'alpha', [
      { name: 'nightly', cron: '0 3 * * *', tz: 'UTC', prompt: 'p', missed: 'run', paused: false },
    ]).added;
    const id = declared?.id ?? expect.fail('not declared');
    for (const [method, p] of [
      ['POST', `/v1/tasks/${id}/pause`],
      ['DELETE', `/v1/tasks/${id}`],
    ]) {
      const r = await call(method ?? '', p ?? '');
      expect(r.status).toBe(409);
      expect(r.body).toMatchObject({ error: { code: 'task_declared' } });
      expect(r.text).toContain("the entry 'nightly'");
      expect(r.text).toContain('agents/alpha.yaml; the running host applies it');
    }
    expect(store.getTask(id)).toEqual(declared);
    expect(Tasks.parse((await call('GET', '/v1/tasks')).body).tasks).toMatchObject([{ id, source: 'file' }]);

    const big = await call('POST', '/v1/agents/alpha/tasks', { prompt: 'x'.repeat(5000), every: '1h' });
    expect([big.status, big.body]).toMatchObject([413, { error: { code: 'body_too_large' } }]);
  });
});
