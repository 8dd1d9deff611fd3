// The single decision point: decide(policy, principal, action, resource, context) → allow | deny | ask.
// Pure and synchronous: everything it needs (the operator's rules, the agent's declared rights, facts the host
// established such as a resolved mount path) is passed in. Evaluation order (docs/governance.md):
//   1. a broken policy, an unknown action, or a principal that may not attempt the action → deny
//   2. hard refusals no rule can lift (a viewer writing; a mount outside the allowlist or onto a sensitive path)
//   3. the operator's deny rules → deny
//   4. the operator's allow rules → allow
//   5. the operator's ask rules → ask
//   6. the agent's declared rights (egress rules, grants, mounts, whom it may message, unknown senders)
//   7. the operator role's defaults (admin: allow)
//   8. otherwise deny
// An ask (from 5 or 6) becomes allow only with an approval for exactly this principal, action and resource.
import type { Action, Principal } from './actions.ts';
import { ACTION_PRINCIPALS, isAction, principalText, READ_ACTIONS } from './actions.ts';
import type { EgressPolicy, EgressRequest } from './egress.ts';
import { decideEgress } from './egress.ts';
import { globMatch } from './glob.ts';
import type { CompiledRule, LoadedPolicy } from './policy.ts';

export type Effect = 'allow' | 'deny' | 'ask';

export interface Decision {
  effect: Effect;
  reason: string;
  /** The rule that decided, e.g. `rule#2`, `no-paste-sites`, `agent:helper/allow:pypi.org`, `approval:ID`. */
  rule?: string;
  /** egress only: an explicitly listed IP literal allowed it, the one way to reach a private address. */
  literal?: boolean;
}

/** An agent's data-access rights as its definition declares them (src/policy/rights.ts builds them). */
export interface AgentRights {
  name: string;
  egress: EgressPolicy;
  /** secret names it may use */
  grants: readonly string[];
  /** globs over `agent:NAME` and `channel:NAME:TARGET` it may send to */
  mayMessage: readonly string[];
  senders: {
    /** channel identities (`CHANNEL:ID`, globs) that may talk to it */
    allow: readonly string[];
    /** what happens to any other sender */
    unknown: Effect;
  };
}

/** Facts about a mount the host established by resolving it (src/policy/mounts.ts); decide trusts them. */
export interface MountFacts {
  /** the agent's definition lists this mount */
  declared: boolean;
  /** the allowlist root the resolved path lies under; absent: under none */
  allowedBy?: string;
  /** why the path can never be mounted (sensitive name, corral's home, a symlink out, an alias) */
  refused?: string;
}

/** An approval a human granted, matched against the request by principal, action and resource. */
export interface ApprovalGrant {
  id: string;
  principal: string;
  action: string;
  resource: string;
  decidedBy: string;
}

export interface DecisionContext {
  /** the agent concerned: the principal of agent actions, the receiver of message.send */
  agent?: AgentRights;
  /** egress and env.install: the request the gateway saw */
  egress?: EgressRequest;
  mount?: MountFacts;
  approval?: ApprovalGrant;
}

const deny = (reason: string, rule?: string): Decision => ({
  effect: 'deny',
  reason,
  ...(rule === undefined ? {} : { rule }),
});

function hardRefusal(p: Principal, action: Action, ctx: DecisionContext): Decision | undefined {
  if (!ACTION_PRINCIPALS[action].includes(p.kind))
    return deny(`${action} is not an action a${p.kind === 'agent' ? 'n' : ''} ${p.kind} may take`);
  if (p.kind === 'operator' && p.role === 'viewer' && !READ_ACTIONS.has(action))
    return deny(`operator ${p.name} is a viewer; ${action} needs an admin`);
  if (action === 'mount') {
    const m = ctx.mount;
    if (m === undefined) return deny('mount without resolved facts');
    if (m.refused !== undefined) return deny(m.refused);
    if (m.allowedBy === undefined) return deny('not under any folder in the mounts allowlist of corral.yaml');
  }
  if ((action === 'egress' || action === 'env.install') && ctx.egress === undefined)
    return deny(`${action} without a request`);
  return undefined;
}

function matches(rule: CompiledRule, action: Action, principal: string, resource: string): boolean {
  return (
    (rule.actions === '*' || rule.actions.has(action)) &&
    globMatch(rule.principal, principal) &&
    globMatch(rule.resource, resource)
  );
}

function fromRule(rule: CompiledRule, fallback: string): Decision {
  return { effect: rule.effect, reason: rule.reason ?? fallback, rule: rule.id };
}

function declaredRights(
  p: Principal,
  action: Action,
  resource: string,
  ctx: DecisionContext,
): Decision | undefined {
  const a = ctx.agent;
  if (a === undefined) return undefined;
  const self = p.kind === 'agent' && p.name === a.name;
  switch (action) {
    case 'egress': {
      if (!self || ctx.egress === undefined) return undefined;
      const d = decideEgress(a.egress, ctx.egress);
      return d.allow
        ? { effect: 'allow', reason: `allowed by ${d.rule}`, rule: d.rule, literal: d.literal }
        : deny(d.reason);
    }
    case 'secret.grant': {
      const name = resource.startsWith('secret:') ? resource.slice('secret:'.length) : undefined;
      if (!self || name === undefined || !a.grants.includes(name)) return undefined;
      return { effect: 'allow', reason: `granted in agent ${a.name}'s file`, rule: `agent:${a.name}/grants` };
    }
    case 'mount':
      return self && ctx.mount?.declared === true
        ? { effect: 'allow', reason: `declared in agent ${a.name}'s file`, rule: `agent:${a.name}/mounts` }
        : undefined;
    case 'agent.message': {
      const hit = self ? a.mayMessage.find((g) => globMatch(g, resource)) : undefined;
      return hit === undefined
        ? undefined
        : {
            effect: 'allow',
            reason: `agent ${a.name} may message ${hit}`,
            rule: `agent:${a.name}/mayMessage`,
          };
    }
    case 'message.send': {
      if (p.kind !== 'user' || resource !== `agent:${a.name}`) return undefined;
      const who = `${p.channel}:${p.id}`;
      const hit = a.senders.allow.find((g) => globMatch(g, who));
      if (hit !== undefined)
        return { effect: 'allow', reason: `${who} is a known sender`, rule: `agent:${a.name}/senders` };
      const reason = `${who} is not a known sender of agent ${a.name} (unknown senders: ${a.senders.unknown})`;
      return { effect: a.senders.unknown, reason, rule: `agent:${a.name}/senders.unknown` };
    }
    case 'task.schedule':
      return self && resource === `agent:${a.name}`
        ? { effect: 'allow', reason: 'an agent may schedule its own tasks', rule: `agent:${a.name}/self` }
        : undefined;
    case 'env.install':
      return self
        ? { effect: 'allow', reason: "the agent's environment is its own", rule: `agent:${a.name}/self` }
        : undefined;
    case 'agent.create':
    case 'agent.update':
    case 'agent.delete':
    case 'approval.decide':
    case 'approval.list':
    case 'audit.read':
      return undefined;
  }
}

function approved(
  d: Decision,
  principal: string,
  action: Action,
  resource: string,
  ctx: DecisionContext,
): Decision {
  const g = ctx.approval;
  if (d.effect !== 'ask' || g === undefined) return d;
  if (g.principal !== principal || g.action !== action || g.resource !== resource) return d;
  return {
    effect: 'allow',
    reason: `approved by ${g.decidedBy} (approval ${g.id})`,
    rule: `approval:${g.id}`,
  };
}

function evaluate(
  policy: LoadedPolicy,
  p: Principal,
  action: string,
  resource: string,
  ctx: DecisionContext,
): Decision {
  if (!policy.ok)
    return deny(`the policy is invalid, so everything is denied: ${policy.error}`, 'policy:invalid');
  if (!isAction(action)) return deny(`unknown action '${action}'`);
  const refused = hardRefusal(p, action, ctx);
  if (refused) return refused;
  const who = principalText(p);
  const found = (effect: string) =>
    policy.rules.find((r) => r.effect === effect && matches(r, action, who, resource));
  const denyRule = found('deny');
  if (denyRule) return fromRule(denyRule, `denied by ${denyRule.id}`);
  const allowRule = found('allow');
  if (allowRule) return fromRule(allowRule, `allowed by ${allowRule.id}`);
  const askRule = found('ask');
  if (askRule)
    return approved(
      fromRule(askRule, `${action} needs an approval (${askRule.id})`),
      who,
      action,
      resource,
      ctx,
    );
  const declared = declaredRights(p, action, resource, ctx);
  if (declared) return approved(declared, who, action, resource, ctx);
  if (p.kind === 'operator' && p.role === 'admin')
    return { effect: 'allow', reason: `operator ${p.name} is an admin`, rule: 'role:admin' };
  if (p.kind === 'operator' && READ_ACTIONS.has(action))
    return { effect: 'allow', reason: `operator ${p.name} may read`, rule: 'role:viewer' };
  return deny(`no rule allows ${action} on ${resource} for ${who}`);
}

/**
 * An egress allowed by an operator rule or an approval may reach a private address only where the agent's own
 * file lists that IP literal: the SSRF guard's one exception stays in the agent's definition.
 */
function withLiteral(d: Decision, p: Principal, action: string, ctx: DecisionContext): Decision {
  if (action !== 'egress' || d.effect !== 'allow' || d.literal !== undefined) return d;
  const own =
    ctx.agent !== undefined && ctx.egress !== undefined && p.kind === 'agent' && p.name === ctx.agent.name;
  const e = own && ctx.agent && ctx.egress ? decideEgress(ctx.agent.egress, ctx.egress) : undefined;
  return { ...d, literal: e?.allow === true && e.literal };
}

/** Decides one request; never throws (anything unexpected is a denial). */
export function decide(
  policy: LoadedPolicy,
  principal: Principal,
  action: string,
  resource: string,
  context: DecisionContext = {},
): Decision {
  try {
    return withLiteral(evaluate(policy, principal, action, resource, context), principal, action, context);
  } catch (err) {
    return deny(`policy evaluation failed, denied: ${err instanceof Error ? err.message : String(err)}`);
  }
}
