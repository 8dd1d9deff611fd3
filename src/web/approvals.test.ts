// The approval routes on a real HTTP server and a real store: list with complete payloads, show, approve, deny.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadPolicy } from '../config/policy-file.ts';
import { createApprovals } from '../host/approvals.ts';
import type { Approvals } from '../host/approvals.ts';
import { openSqliteStore } from '../store/sqlite.ts';
import type { Store } from '../store/types.ts';
import { approvalRoutes } from './approvals.ts';
import { HttpError, sendError } from './http-util.ts';

let dir: string;
let store: Store;
let approvals: Approvals;
let base: string;
let close: () => Promise<void>;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-api-approvals-'));
  store = openSqliteStore({ path: path.join(dir, 'corral.db'), secretKey: crypto.randomBytes(32) });
  const policyFile = path.join(dir, 'policy.yaml');
  const policy = () => loadPolicy(policyFile);
  approvals = createApprovals({ store, policy, policyFile, audit: (e) => void store.appendAudit(e) });
  const routes = approvalRoutes({ approvals });
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const route = routes.find((r) => r.method === req.method && r.path.test(url.pathname));
    const params = route?.path.exec(url.pathname)?.slice(1) ?? [];
    (async () => route?.handler(req, res, params, url))().catch((err: unknown) =>
      sendError(res, err instanceof HttpError ? err : new HttpError(500, 'internal', String(err))),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address: AddressInfo | string | null = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  base = `http://127.0.0.1:${address.port}`;
  close = () => new Promise((r) => server.close(() => r()));
});
afterEach(async () => {
  await close();
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('/v1/approvals', () => {
  it('lists held actions with their complete payload, and approves or denies them', async () => {
    const payload = { text: 'deploy to prod', args: ['--force', '--region=eu'] };
    const decision = { effect: 'ask' as const, reason: 'asked by rule#1', rule: 'rule#1' };
    const held = await approvals.hold({ principal: { kind: 'agent', name: 'helper' }, action: 'agent.message', resource: 'channel:slack:#ops', payload, decision });
    const other = await approvals.hold({ principal: { kind: 'agent', name: 'helper' }, action: 'agent.message', resource: 'agent:x', payload: { text: 'b' }, decision });
    const list = await (await fetch(`${base}/v1/approvals`)).json();
    expect(list).toMatchObject({ approvals: [{ id: other.id }, { id: held.id, payload, status: 'pending' }] });
    expect(await (await fetch(`${base}/v1/approvals/${held.id}`)).json()).toMatchObject({ payload });
    const post = (id: string, body: unknown) =>
      fetch(`${base}/v1/approvals/${id}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const ok = await post(held.id, { decision: 'approve' });
    expect(await ok.json()).toMatchObject({ status: 'approved', decidedBy: 'operator:api' });
    expect((await post(other.id, { decision: 'deny' })).status).toBe(200);
    expect((await post(other.id, { decision: 'maybe' })).status).toBe(400);
    expect((await fetch(`${base}/v1/approvals/nope`)).status).toBe(404);
    expect(await (await fetch(`${base}/v1/approvals?status=approved`)).json()).toMatchObject({ approvals: [{ id: held.id }] });
  }); // prettier-ignore
});
