// Egress and credential grants through the policy decision point in a real gateway: an operator deny over the
// agent's own allow, an ask held in the gateway until an operator approves it (with the request as its payload),
// and an operator allow that still cannot reach a loopback address the agent's rules do not list.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadPolicy } from '../config/policy-file.ts';
import { createApprovals } from '../host/approvals.ts';
import type { Approvals } from '../host/approvals.ts';
import { LOCAL_OPERATOR } from '../policy/actions.ts';
import { buildPolicy } from '../policy/egress.ts';
import { openSqliteStore } from '../store/sqlite.ts';
import type { Store } from '../store/types.ts';
import type { Origin } from './egress-test-origin.ts';
import { resolve, startOrigin } from './egress-test-origin.ts';
import type { Harness } from './test-harness.ts';
import { request, startHarness } from './test-harness.ts';

let dir: string;
let store: Store;
let h: Harness;
let origin: Origin;
let approvals: Approvals;
const policyFile = (): string => path.join(dir, 'policy.yaml');
const rules = (text: string): void => fs.writeFileSync(policyFile(), `version: 1\nrules:\n${text}`);

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-gov-gw-'));
  store = openSqliteStore({ path: path.join(dir, 'corral.db'), secretKey: crypto.randomBytes(32) });
  origin = await startOrigin();
  const policy = () => loadPolicy(policyFile());
  const audit = (e: Parameters<Store['appendAudit']>[0]) => void store.appendAudit(e);
  approvals = createApprovals({ store, policy, policyFile: policyFile(), audit, pollMs: 20 });
  h = await startHarness({
    policy,
    approvals,
    egress: {
      policy: () => buildPolicy('none', [`127.0.0.1:${origin.port}`]),
      resolve,
      timeouts: { connectMs: 500, idleMs: 1_000, approvalHoldMs: 5_000 },
    },
  });
});
afterEach(async () => {
  await h.close();
  await origin.close();
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const get = (port = origin.port) =>
  request(h.endpoint.socketPath, { method: 'GET', path: `http://127.0.0.1:${port}/x` });

describe('egress through decide()', () => {
  it("an operator deny beats the agent's own allow; a broken policy denies everything", async () => {
    expect((await get()).status).toBe(200);
    rules(
      `  - { id: no-loop, effect: deny, action: egress, resource: '127.0.0.1:*', reason: 'no loopback' }\n`,
    );
    const denied = await get();
    expect(denied.status).toBe(403);
    expect(denied.body).toBe(
      `corral gateway: egress to 127.0.0.1:${origin.port} denied: no loopback (no-loop)\n`,
    );
    rules('  - { effect: deny, action: egres }\n');
    expect((await get()).body).toMatch(/the policy is invalid, so everything is denied: .*policy.yaml:3/);
    expect(origin.seen).toHaveLength(1);
  });

  it('an operator allow rule does not lift the SSRF guard: only the agent’s own IP literal can', async () => {
    rules(`  - { effect: allow, action: egress, principal: 'agent:alice' }\n`);
    const other = await startOrigin();
    try {
      const res = await get(other.port);
      expect(res.status).toBe(403);
      expect(res.body).toMatch(/127.0.0.1 is a loopback address/);
    } finally {
      await other.close();
    }
  });

  it('an ask holds the request until an operator approves it, with the request as the payload', async () => {
    rules('  - { id: hold-egress, effect: ask, action: egress }\n');
    const pending = get();
    let listed = approvals.list({ status: 'pending' });
    for (let i = 0; listed.length === 0 && i < 100; i++) {
      await new Promise((r) => setTimeout(r, 20));
      listed = approvals.list({ status: 'pending' });
    }
    expect(listed).toHaveLength(1);
    const held = listed[0];
    expect(held).toMatchObject({
      action: 'egress',
      principal: 'agent:alice',
      resource: `127.0.0.1:${origin.port}`,
      payload: { host: '127.0.0.1', port: origin.port, method: 'GET', path: '/x' },
      rule: 'hold-egress',
    });
    expect(origin.seen).toHaveLength(0);
    approvals.approve(held?.id ?? '', LOCAL_OPERATOR);
    expect((await pending).status).toBe(200);
    expect(origin.seen).toHaveLength(1);
    const allow = h.audit.find((e) => e.action === 'egress.allow');
    expect(allow?.detail).toMatchObject({ rule: `approval:${held?.id ?? ''}` });
  });

  it('a denied ask refuses the request naming the approval', async () => {
    rules('  - { effect: ask, action: egress }\n');
    const pending = get();
    for (let i = 0; approvals.list().length === 0 && i < 100; i++)
      await new Promise((r) => setTimeout(r, 20));
    const id = approvals.list()[0]?.id ?? '';
    approvals.deny(id, LOCAL_OPERATOR);
    const res = await pending;
    expect(res.status).toBe(403);
    expect(res.body).toContain(
      `approval ${id} (egress on 127.0.0.1:${origin.port}) was denied by operator:cli`,
    );
    expect(h.audit.at(-1)).toMatchObject({ action: 'egress.deny', detail: { approval: id } });
  });
});
