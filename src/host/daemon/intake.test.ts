// The daemon's intake over the real policy loader, approvals service and SQLite store: channel users are decided by
// each agent's sender rules and the operator's policy; an ask holds the complete message until approved.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveHome } from '../../config/home.ts';
import type { HomePaths } from '../../config/home.ts';
import { AgentConfig } from '../../config/schema.ts';
import { LOCAL_OPERATOR } from '../../policy/actions.ts';
import { openSqliteStore } from '../../store/sqlite.ts';
import type { Store } from '../../store/types.ts';
import { CorralError } from '../../util/errors.ts';
import { silentLogger } from '../../util/log.ts';
import type { Governance } from '../authorize.ts';
import { openGovernance } from '../governance.ts';
import type { InboundMessage, Intake } from './intake.ts';
import { createIntake } from './intake.ts';
import type { MessageView } from './messages.ts';

let home: HomePaths;
let store: Store;
let gov: Governance;
let accepted: InboundMessage[];
let stop: AbortController;
const agents = new Map<string, AgentConfig>();

function intake(): Intake {
  return createIntake({
    gov,
    agent: (n) => agents.get(n) ?? new CorralError('agent_unknown', `unknown agent '${n}'`),
    messages: {
      accept: (m): MessageView => {
        accepted.push(m);
        return {
          ...{
            id: `m${accepted.length}`,
            agent: m.agent,
            channel: m.channel,
            thread: m.thread,
            text: m.text,
          },
          ...{ kind: 'user', status: 'queued', reply: null, error: null, attempts: 0 },
          ...{ createdAt: new Date().toISOString(), updatedAt: null },
        };
      },
    },
    log: silentLogger,
    signal: stop.signal,
  });
}

const agent = (name: string, senders: object): void =>
  void agents.set(name, AgentConfig.parse({ name, model: 'p:m', senders }));
const msg = (agentName: string, text = 'hello'): InboundMessage => ({
  agent: agentName,
  channel: 'telegram',
  thread: 'chat-7',
  text,
});

beforeEach(() => {
  home = resolveHome({ CORRAL_HOME: fs.mkdtempSync(path.join(os.tmpdir(), 'corral-intake-')) });
  store = openSqliteStore({ path: ':memory:', secretKey: randomBytes(32) });
  gov = openGovernance(home, store);
  accepted = [];
  stop = new AbortController();
  agents.clear();
});
afterEach(() => {
  stop.abort();
  store.close();
  fs.rmSync(home.root, { recursive: true, force: true });
});

describe('intake of channel users', () => {
  it('denies an unknown sender by default, naming the rule', async () => {
    agent('alpha', {});
    const r = await intake().fromChannelUser('99', msg('alpha'));
    expect(r).toMatchObject({ status: 'denied', rule: 'agent:alpha/senders.unknown' });
    expect(accepted).toEqual([]);
    const audit = store.listAudit({ limit: 10 }).map((e) => [e.actor, e.action, e.detail['effect']]);
    expect(audit).toContainEqual(['user:telegram:99', 'policy.decide', 'deny']);
  });

  it('accepts a known sender, and anyone where unknown senders are allowed', async () => {
    agent('alpha', { allow: ['telegram:42'] });
    agent('open', { unknown: 'allow' });
    expect(await intake().fromChannelUser('42', msg('alpha'))).toMatchObject({ status: 'accepted' });
    expect(await intake().fromChannelUser('99', msg('open'))).toMatchObject({ status: 'accepted' });
    expect(accepted.map((m) => m.agent)).toEqual(['alpha', 'open']);
  });

  it('an operator deny rule beats a known sender', async () => {
    agent('alpha', { allow: ['telegram:*'] });
    fs.writeFileSync(
      home.policyFile,
      'version: 1\nrules:\n  - { id: blocked, effect: deny, action: message.send, principal: "user:telegram:42" }\n',
    );
    expect(await intake().fromChannelUser('42', msg('alpha'))).toMatchObject({
      status: 'denied',
      rule: 'blocked',
    });
  });

  it('holds an unknown sender’s message as an approval and queues it once approved', async () => {
    agent('alpha', { unknown: 'ask' });
    const r = await intake().fromChannelUser('99', msg('alpha', 'may I?'));
    if (r.status !== 'held') throw new Error(`expected held, got ${r.status}`);
    expect(accepted).toEqual([]);
    const row = gov.approvals.show(r.approval);
    expect(row).toMatchObject({
      action: 'message.send',
      principal: 'user:telegram:99',
      resource: 'agent:alpha',
    });
    expect(row.payload).toEqual({ agent: 'alpha', channel: 'telegram', thread: 'chat-7', text: 'may I?' });
    gov.approvals.approve(r.approval, LOCAL_OPERATOR);
    for (let i = 0; i < 200 && accepted.length === 0; i++) await new Promise((res) => setTimeout(res, 10));
    expect(accepted).toEqual([{ ...msg('alpha', 'may I?'), source: `approval:${r.approval}` }]);
  });

  it('a denied approval never queues the message', async () => {
    agent('alpha', { unknown: 'ask' });
    const r = await intake().fromChannelUser('99', msg('alpha'));
    if (r.status !== 'held') throw new Error(`expected held, got ${r.status}`);
    gov.approvals.deny(r.approval, LOCAL_OPERATOR);
    await new Promise((res) => setTimeout(res, 400));
    expect(accepted).toEqual([]);
  });

  it('an unknown agent is an error, not a decision', async () => {
    await expect(intake().fromChannelUser('1', msg('ghost'))).rejects.toThrow(/unknown agent/);
  });
});
