// Approvals with a real SQLite store: an ask holds the action until an operator decides (from a second
// connection, as another process would), the approval shows the action's complete payload, and it expires.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadPolicy } from '../config/policy-file.ts';
import type { Action, Principal } from '../policy/actions.ts';
import { LOCAL_OPERATOR } from '../policy/actions.ts';
import type { DecisionContext } from '../policy/decide.ts';
import { declaredOnly } from '../policy/rights.ts';
import { openSqliteStore } from '../store/sqlite.ts';
import type { Store } from '../store/types.ts';
import { createApprovals } from './approvals.ts';
import type { Governance } from './authorize.ts';
import { authorize } from './authorize.ts';

let dir: string;
let stores: Store[];
const key = crypto.randomBytes(32);
const open = (): Store => {
  const s = openSqliteStore({ path: path.join(dir, 'corral.db'), secretKey: key });
  stores.push(s);
  return s;
};
const policyFile = (): string => path.join(dir, 'policy.yaml');
const writePolicy = (rules: string): void =>
  fs.writeFileSync(policyFile(), `# ours\nversion: 1\nrules:\n${rules}`);

function governance(store: Store, ttlMs = 60_000): Governance {
  const audit: Governance['audit'] = (e) => void store.appendAudit(e);
  const policy = () => loadPolicy(policyFile());
  return {
    policy,
    audit,
    approvals: createApprovals({ store, policy, policyFile: policyFile(), audit, ttlMs, pollMs: 20 }),
  };
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-approvals-'));
  stores = [];
});
afterEach(() => {
  for (const s of stores) s.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const helper: Principal = { kind: 'agent', name: 'helper' };
const viewer: Principal = { kind: 'operator', name: 'vic', role: 'viewer' };
const mount = { declared: false, allowedBy: '/srv' };
// Every privileged action, with a principal and context under which nothing but a rule allows it.
const actions: [Action, Principal, string, Record<string, unknown>, DecisionContext][] = [
  ['message.send', { kind: 'user', channel: 'telegram', id: '42' }, 'agent:helper', { text: 'hi there' }, { agent: declaredOnly('helper') }],
  ['agent.message', helper, 'agent:reviewer', { text: 'please review', attachments: ['a.txt'] }, { agent: declaredOnly('helper') }],
  ['mount', helper, '/srv/data', { hostPath: '/srv/data', sandboxPath: '/mnt/data', readOnly: false }, { agent: declaredOnly('helper'), mount }],
  ['secret.grant', helper, 'secret:GH_TOKEN', { secret: 'GH_TOKEN' }, { agent: declaredOnly('helper') }],
  ['task.schedule', helper, 'agent:reviewer', { prompt: 'daily digest', cron: '0 9 * * *' }, { agent: declaredOnly('helper') }],
  ['agent.create', viewer, 'agent:new', { name: 'new', model: 'anthropic:x' }, {}],
]; // prettier-ignore

describe('authorize', () => {
  it.each(actions)(
    '%s: denied without a rule, allowed with one, held by ask until approved',
    async (action, principal, resource, payload, context) => {
      const store = open();
      const gov = governance(store);
      writePolicy('  []\n');
      expect((await authorize(gov, { principal, action, resource, payload, context })).effect).toBe('deny');
      if (principal !== viewer) {
        writePolicy(`  - { effect: allow, action: ${action}, resource: '${resource}' }\n`);
        expect((await authorize(gov, { principal, action, resource, payload, context })).effect).toBe(
          'allow',
        );
      }
      writePolicy(`  - { effect: ask, action: ${action} }\n`);
      if (principal === viewer) return; // a viewer is refused before any rule
      let held = '';
      const pending = authorize(
        gov,
        { principal, action, resource, payload, context },
        {
          waitMs: 10_000,
          onHeld: (_m, id) => (held = id),
        },
      );
      await new Promise((r) => setTimeout(r, 100));
      // the operator, in another process: sees the complete payload, approves
      const other = governance(open());
      const shown = other.approvals.show(held);
      expect(shown).toMatchObject({ status: 'pending', action, resource, payload });
      expect(shown.payload).toEqual(payload);
      other.approvals.approve(held, LOCAL_OPERATOR);
      expect(await pending).toMatchObject({ effect: 'allow', rule: `approval:${held}` });
      // the identical action goes through on that approval; a different payload asks again
      expect((await authorize(gov, { principal, action, resource, payload, context })).effect).toBe('allow');
      expect(
        (await authorize(gov, { principal, action, resource, payload: { ...payload, x: 1 }, context }))
          .effect,
      ).toBe('ask');
    },
  );

  it('a denied approval fails the action, an expired one says so, and both are audited', async () => {
    const store = open();
    writePolicy('  - { effect: ask, action: agent.message }\n');
    const req = {
      principal: helper,
      action: 'agent.message' as const,
      resource: 'agent:x',
      payload: { text: 'a' },
    };
    const gov = governance(store);
    let id = '';
    const pending = authorize(gov, req, { waitMs: 10_000, onHeld: (_m, i) => (id = i) });
    await new Promise((r) => setTimeout(r, 50));
    gov.approvals.deny(id, LOCAL_OPERATOR);
    const denied = await pending;
    expect(denied.effect).toBe('deny');
    expect(denied.reason).toMatch(/was denied by operator:cli/);

    const short = governance(store, 100);
    const expired = await authorize(short, { ...req, payload: { text: 'b' } }, { waitMs: 5_000 });
    expect(expired.reason).toMatch(/expired at .* without a decision; the action was not taken/);
    const actions = store.listAudit().map((e) => e.action);
    expect(actions).toEqual(
      expect.arrayContaining(['approval.request', 'approval.deny', 'approval.expire', 'policy.decide']),
    );
    expect(() => gov.approvals.approve(id, LOCAL_OPERATOR)).toThrow(/is denied/);
  });

  it('approve --always writes an exact allow rule, keeping the file; a viewer cannot approve', async () => {
    const store = open();
    writePolicy('  - { effect: ask, action: agent.message }\n');
    const gov = governance(store);
    const req = {
      principal: helper,
      action: 'agent.message' as const,
      resource: 'agent:x',
      payload: { text: 'a' },
    };
    const first = await authorize(gov, req);
    expect(first.effect).toBe('ask');
    expect(first.approval).toMatch(/^ap-/);
    const id = first.approval ?? '';
    expect(() => gov.approvals.approve(id, viewer)).toThrow(/viewer/);
    gov.approvals.approve(id, LOCAL_OPERATOR, { always: true });
    const text = fs.readFileSync(policyFile(), 'utf8');
    expect(text).toMatch(/^# ours/);
    expect(text).toContain(`id: always-${id}`);
    const later = await authorize(gov, { ...req, payload: { text: 'another text' } });
    expect(later).toMatchObject({ effect: 'allow', rule: `always-${id}` });
    expect(store.listAudit().some((e) => e.action === 'config.change')).toBe(true);
  });

  it('a malformed policy denies everything, naming the file and line', async () => {
    const store = open();
    writePolicy('  - { effect: permit, action: egress }\n');
    const d = await authorize(governance(store), {
      principal: LOCAL_OPERATOR,
      action: 'agent.create',
      resource: 'agent:x',
      payload: {},
    });
    expect(d).toMatchObject({ effect: 'deny', rule: 'policy:invalid' });
    expect(d.reason).toMatch(/policy\.yaml:4: rules\.0\.effect/);
  });
});
