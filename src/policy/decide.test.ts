// Each privileged action: denied without a rule, allowed with one, asked with an ask rule; plus the agent's
// declared rights and the operator roles.
import { describe, expect, it } from 'vitest';
import { PolicyFile } from '../config/policy.ts';
import type { z } from 'zod';
import type { Action, Principal } from './actions.ts';
import type { AgentRights, DecisionContext } from './decide.ts';
import { decide } from './decide.ts';
import { buildPolicy } from './egress.ts';
import { compilePolicy } from './policy.ts';

const policy = (...rules: z.input<typeof PolicyFile>['rules'] & object) =>
  compilePolicy(PolicyFile.parse({ version: 1, rules }), 'test');
const agent = (name: string): Principal => ({ kind: 'agent', name });
const nobody: AgentRights = {
  name: 'helper',
  egress: buildPolicy('none', []),
  grants: [],
  mayMessage: [],
  senders: { allow: [], unknown: 'deny' },
};
const viewer: Principal = { kind: 'operator', name: 'vic', role: 'viewer' };
const mountFacts = { declared: false, allowedBy: '/srv' };

// [action, principal, resource, context]: requests that no declared right or role default allows.
const cases: [Action, Principal, string, DecisionContext][] = [
  ['message.send', { kind: 'user', channel: 'telegram', id: '42' }, 'agent:helper', { agent: nobody }],
  ['agent.message', agent('helper'), 'agent:other', { agent: nobody }],
  ['egress', agent('helper'), 'example.com:443', { agent: nobody, egress: { host: 'example.com', port: 443, method: 'CONNECT', path: '' } }],
  ['mount', agent('helper'), '/srv/data', { agent: nobody, mount: mountFacts }],
  ['secret.grant', agent('helper'), 'secret:GH_TOKEN', { agent: nobody }],
  ['task.schedule', agent('helper'), 'agent:other', { agent: nobody }],
  ['agent.create', viewer, 'agent:new', {}],
  ['agent.update', viewer, 'agent:helper', {}],
  ['agent.delete', viewer, 'agent:helper', {}],
  ['approval.decide', viewer, 'approval:x', {}],
]; // prettier-ignore

describe('decide: each privileged action', () => {
  it.each(cases)('%s is denied without a rule', (action, p, resource, ctx) => {
    expect(decide(policy(), p, action, resource, ctx).effect).toBe('deny');
  });

  it.each(cases.filter(([, p]) => p !== viewer))(
    '%s is allowed by an allow rule, held by an ask rule',
    (action, p, resource, ctx) => {
      expect(
        decide(policy({ effect: 'allow', action, principal: '*', resource }), p, action, resource, ctx),
      ).toMatchObject({
        effect: 'allow',
        rule: 'rule#1',
      });
      const asked = decide(
        policy({ id: 'hold', effect: 'ask', action, resource: '*' }),
        p,
        action,
        resource,
        ctx,
      );
      expect(asked).toMatchObject({ effect: 'ask', rule: 'hold' });
    },
  );

  it('a viewer stays read-only whatever the rules say; an admin may by default', () => {
    const all = policy({ effect: 'allow', action: '*' });
    expect(decide(all, viewer, 'agent.delete', 'agent:helper').reason).toMatch(/viewer/);
    expect(decide(policy(), viewer, 'audit.read', '*').effect).toBe('allow');
    const admin: Principal = { kind: 'operator', name: 'root', role: 'admin' };
    expect(decide(policy(), admin, 'agent.delete', 'agent:helper')).toMatchObject({
      effect: 'allow',
      rule: 'role:admin',
    });
    expect(
      decide(
        policy({ effect: 'deny', action: 'agent.delete', principal: 'operator:root' }),
        admin,
        'agent.delete',
        'agent:x',
      ).effect,
    ).toBe('deny');
  });
});

describe("decide: the agent's declared rights", () => {
  const helper: AgentRights = {
    name: 'helper',
    egress: buildPolicy('packages', ['api.example.com']),
    grants: ['GH_TOKEN'],
    mayMessage: ['agent:reviewer', 'channel:slack:*'],
    senders: { allow: ['telegram:42'], unknown: 'ask' },
  };
  const ctx = { agent: helper };
  const me = agent('helper');

  it('egress through its own rules, and an operator deny on top', () => {
    const req = { host: 'api.example.com', port: 443, method: 'CONNECT', path: '' };
    expect(decide(policy(), me, 'egress', 'api.example.com:443', { ...ctx, egress: req })).toMatchObject({
      effect: 'allow',
      rule: 'api.example.com',
    });
    const denied = policy({
      effect: 'deny',
      action: 'egress',
      resource: '*.example.com:*',
      reason: 'no example',
    });
    expect(decide(denied, me, 'egress', 'api.example.com:443', { ...ctx, egress: req }).reason).toBe(
      'no example',
    );
  });

  it('grants, messaging, own tasks and the environment', () => {
    expect(decide(policy(), me, 'secret.grant', 'secret:GH_TOKEN', ctx).effect).toBe('allow');
    expect(decide(policy(), me, 'secret.grant', 'secret:OTHER', ctx).effect).toBe('deny');
    expect(decide(policy(), me, 'agent.message', 'channel:slack:#ops', ctx).effect).toBe('allow');
    expect(decide(policy(), me, 'agent.message', 'agent:boss', ctx).effect).toBe('deny');
    expect(decide(policy(), me, 'task.schedule', 'agent:helper', ctx).effect).toBe('allow');
    const install = { ...ctx, egress: { host: 'deb.debian.org', port: 80, method: 'GET', path: '/x' } };
    expect(decide(policy(), me, 'env.install', 'deb.debian.org:80', install).effect).toBe('allow');
    expect(
      decide(
        policy({ effect: 'ask', action: 'env.install' }),
        me,
        'env.install',
        'deb.debian.org:80',
        install,
      ).effect,
    ).toBe('ask');
    // another agent's rights are not this agent's
    expect(decide(policy(), agent('other'), 'secret.grant', 'secret:GH_TOKEN', ctx).effect).toBe('deny');
  });

  it('known senders pass, unknown ones get the agent setting', () => {
    const known: Principal = { kind: 'user', channel: 'telegram', id: '42' };
    const stranger: Principal = { kind: 'user', channel: 'telegram', id: '7' };
    expect(decide(policy(), known, 'message.send', 'agent:helper', ctx).effect).toBe('allow');
    const d = decide(policy(), stranger, 'message.send', 'agent:helper', ctx);
    expect(d.effect).toBe('ask');
    expect(d.reason).toMatch(/telegram:7 is not a known sender/);
  });

  it('mounts: declared and under the allowlist; refused paths stay refused even with an allow rule', () => {
    const allowAll = policy({ effect: 'allow', action: 'mount' });
    expect(
      decide(policy(), me, 'mount', '/srv/x', { ...ctx, mount: { declared: true, allowedBy: '/srv' } })
        .effect,
    ).toBe('allow');
    expect(decide(allowAll, me, 'mount', '/home/u', { ...ctx, mount: { declared: true } }).reason).toMatch(
      /allowlist/,
    );
    const refused = { declared: true, allowedBy: '/srv', refused: '/srv/.ssh is sensitive' };
    expect(decide(allowAll, me, 'mount', '/srv/.ssh', { ...ctx, mount: refused }).reason).toBe(
      '/srv/.ssh is sensitive',
    );
  });
});
