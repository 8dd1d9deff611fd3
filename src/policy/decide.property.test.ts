// Property tests of the evaluation order: whatever the rules, requests and context, these hold.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PolicyRule } from '../config/policy.ts';
import { ACTIONS, isAction, principalText, READ_ACTIONS } from './actions.ts';
import type { Action, Principal } from './actions.ts';
import type { AgentRights, DecisionContext, Effect } from './decide.ts';
import { decide } from './decide.ts';
import { buildPolicy, decideEgress } from './egress.ts';
import type { LoadedPolicy } from './policy.ts';
import { compilePolicy } from './policy.ts';

const names = ['alice', 'bob', 'helper', 'ops'];
const principal: fc.Arbitrary<Principal> = fc.oneof(
  fc.record({
    kind: fc.constant('operator' as const),
    name: fc.constantFrom(...names),
    role: fc.constantFrom('admin' as const, 'viewer' as const),
  }),
  fc.record({
    kind: fc.constant('user' as const),
    channel: fc.constantFrom('telegram', 'slack'),
    id: fc.constantFrom('1', '2', 'x'),
  }),
  fc.record({ kind: fc.constant('agent' as const), name: fc.constantFrom(...names) }),
);
const resources = [
  'agent:helper',
  'agent:bob',
  'secret:GH',
  'pypi.org:443',
  '10.0.0.5:80',
  '/srv/data',
  'channel:slack:#ops',
];
const resource = fc.constantFrom(...resources);
const action = fc.constantFrom(...ACTIONS);
// '*' often, so that rules match often enough for order to matter
const pattern = (values: string[]) =>
  fc.oneof(
    { arbitrary: fc.constant('*'), weight: 3 },
    { arbitrary: fc.constantFrom(...values, ...values.map((v) => `${v.slice(0, 3)}*`)), weight: 2 },
  );
const principalPatterns = ['operator:alice', 'user:telegram:1', 'agent:helper', 'agent:bob', 'operator:*'];

const rule: fc.Arbitrary<PolicyRule> = fc.record({
  effect: fc.constantFrom('allow' as const, 'deny' as const, 'ask' as const),
  action: fc.oneof(fc.constant('*' as const), action, fc.uniqueArray(action, { minLength: 1, maxLength: 3 })),
  principal: pattern(principalPatterns),
  resource: pattern(resources),
});
const rules = fc.array(rule, { maxLength: 6 });
const policyOf = (rs: PolicyRule[]): LoadedPolicy =>
  compilePolicy({ version: 1, operators: {}, rules: rs }, 'test');

const rights: fc.Arbitrary<AgentRights> = fc.record({
  name: fc.constantFrom(...names),
  egress: fc.constantFrom(
    buildPolicy('none', []),
    buildPolicy('packages', ['10.0.0.5:80']),
    buildPolicy('web', []),
  ),
  grants: fc.subarray(['GH', 'NPM']),
  mayMessage: fc.subarray(['agent:*', 'channel:slack:*']),
  senders: fc.record({
    allow: fc.subarray(['telegram:1', 'slack:*']),
    unknown: fc.constantFrom<Effect>('allow', 'deny', 'ask'),
  }),
});
const context: fc.Arbitrary<DecisionContext> = fc.record(
  {
    agent: rights,
    egress: fc.record({
      host: fc.constantFrom('pypi.org', '10.0.0.5', 'example.com'),
      port: fc.constantFrom(80, 443),
      method: fc.constantFrom('CONNECT', 'GET'),
      path: fc.constant(''),
    }),
    mount: fc.record(
      { declared: fc.boolean(), allowedBy: fc.constant('/srv'), refused: fc.constant('sensitive') },
      { requiredKeys: ['declared'] },
    ),
  },
  { requiredKeys: [] },
);
const request = fc.record({ principal, action, resource, context, rules });

const rank: Record<Effect, number> = { deny: 0, ask: 1, allow: 2 };
const catchAll = (effect: PolicyRule['effect']): PolicyRule => ({
  effect,
  action: '*',
  principal: '*',
  resource: '*',
});

fc.configureGlobal({ numRuns: 300 });

describe('decide (properties)', () => {
  it('is deterministic, and the effect does not depend on the order of rules', () => {
    fc.assert(
      fc.property(request, fc.func(fc.integer()), (r, key) => {
        const d = decide(policyOf(r.rules), r.principal, r.action, r.resource, r.context);
        expect(decide(policyOf(r.rules), r.principal, r.action, r.resource, r.context)).toEqual(d);
        const shuffled = [...r.rules].sort((a, b) => key(a) - key(b));
        expect(decide(policyOf(shuffled), r.principal, r.action, r.resource, r.context).effect).toBe(
          d.effect,
        );
      }),
    );
  });

  it('an explicit deny beats every allow and ask', () => {
    fc.assert(
      fc.property(request, fc.nat(), (r, at) => {
        const withDeny = [...r.rules];
        withDeny.splice(at % (withDeny.length + 1), 0, catchAll('deny'));
        expect(decide(policyOf(withDeny), r.principal, r.action, r.resource, r.context).effect).toBe('deny');
      }),
    );
  });

  it('adding a deny rule never widens a decision; adding an allow rule never narrows one', () => {
    fc.assert(
      fc.property(request, rule, (r, extra) => {
        const before = rank[decide(policyOf(r.rules), r.principal, r.action, r.resource, r.context).effect];
        const after =
          rank[decide(policyOf([...r.rules, extra]), r.principal, r.action, r.resource, r.context).effect];
        if (extra.effect === 'deny') expect(after).toBeLessThanOrEqual(before);
        if (extra.effect === 'allow') expect(after).toBeGreaterThanOrEqual(before);
      }),
    );
  });

  it('an unknown action is denied, whatever the rules', () => {
    const unknown = fc.string().filter((s) => !isAction(s));
    fc.assert(
      fc.property(request, unknown, (r, a) => {
        const withAllow = [...r.rules, catchAll('allow')];
        expect(decide(policyOf(withAllow), r.principal, a, r.resource, r.context).effect).toBe('deny');
      }),
    );
  });

  it('a malformed policy denies everything', () => {
    const broken: LoadedPolicy = { ok: false, source: 'p.yaml', error: 'p.yaml:3: rules.0.effect: invalid' };
    fc.assert(
      fc.property(request, (r) => {
        const d = decide(broken, r.principal, r.action, r.resource, r.context);
        expect(d).toMatchObject({ effect: 'deny', rule: 'policy:invalid' });
      }),
    );
  });

  it('ask never becomes allow without an approval for exactly that request', () => {
    fc.assert(
      fc.property(request, resource, (r, other) => {
        const p = policyOf(r.rules);
        const d = decide(p, r.principal, r.action, r.resource, r.context);
        expect(d.rule ?? '').not.toMatch(/^approval:/);
        if (d.effect !== 'ask') return;
        const grant = {
          id: 'a1',
          principal: principalText(r.principal),
          action: r.action,
          decidedBy: 'operator:alice',
        };
        if (other !== r.resource) {
          const wrong = { ...r.context, approval: { ...grant, resource: other } };
          expect(decide(p, r.principal, r.action, r.resource, wrong).effect).toBe('ask');
        }
        const right = { ...r.context, approval: { ...grant, resource: r.resource } };
        expect(decide(p, r.principal, r.action, r.resource, right)).toMatchObject({
          effect: 'allow',
          rule: 'approval:a1',
        });
      }),
    );
  });

  it('an approval changes nothing but an ask', () => {
    fc.assert(
      fc.property(request, (r) => {
        const p = policyOf(r.rules);
        const d = decide(p, r.principal, r.action, r.resource, r.context);
        if (d.effect === 'ask') return;
        const approval = {
          id: 'a1',
          principal: principalText(r.principal),
          action: r.action,
          resource: r.resource,
          decidedBy: 'operator:alice',
        };
        expect(decide(p, r.principal, r.action, r.resource, { ...r.context, approval })).toEqual(d);
      }),
    );
  });

  it('a viewer is never allowed to change anything; an agent never decides approvals or manages agents', () => {
    const operatorOnly: Action[] = ['approval.decide', 'agent.create', 'agent.update', 'agent.delete'];
    fc.assert(
      fc.property(request, fc.string(), (r, name) => {
        const p = policyOf([...r.rules, catchAll('allow')]);
        const viewer: Principal = { kind: 'operator', name: 'v', role: 'viewer' };
        if (!READ_ACTIONS.has(r.action))
          expect(decide(p, viewer, r.action, r.resource, r.context).effect).toBe('deny');
        for (const a of operatorOnly)
          expect(decide(p, { kind: 'agent', name }, a, r.resource, r.context).effect).toBe('deny');
      }),
    );
  });

  it("with no operator rules, egress is exactly the gateway's existing decision", () => {
    const host = fc.constantFrom(
      'pypi.org',
      'files.pythonhosted.org',
      'example.com',
      '10.0.0.5',
      'EXAMPLE.com.',
      'a b',
    );
    const req = fc.record({
      host,
      port: fc.constantFrom(80, 443, 8080, 0),
      method: fc.constantFrom('CONNECT', 'GET', 'POST'),
      path: fc.constantFrom('', '/v1/x', '/v2/%2f'),
    });
    const agentRules = fc.subarray([
      'example.com:8080',
      'GET example.com/v1/*',
      '10.0.0.5:80',
      '*.pythonhosted.org',
    ]);
    fc.assert(
      fc.property(
        req,
        fc.constantFrom('none' as const, 'packages' as const, 'web' as const),
        agentRules,
        (q, preset, allow) => {
          const egress = buildPolicy(preset, allow);
          const agent: AgentRights = {
            name: 'helper',
            egress,
            grants: [],
            mayMessage: [],
            senders: { allow: [], unknown: 'deny' },
          };
          const d = decide(policyOf([]), { kind: 'agent', name: 'helper' }, 'egress', `${q.host}:${q.port}`, {
            agent,
            egress: q,
          });
          const old = decideEgress(egress, q);
          expect(d.effect).toBe(old.allow ? 'allow' : 'deny');
          if (old.allow) expect(d.literal).toBe(old.literal);
        },
      ),
    );
  });
});
