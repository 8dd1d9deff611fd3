// Admission of one egress request: the agent's policy (read now) through decide(), then one resolution and the
// SSRF guard; every outcome is audited, and an allowed request leaves with the exact address that was checked.
import type { Agent } from 'node:http';
import { decide } from '../policy/decide.ts';
import type { ApprovalGrant, Decision } from '../policy/decide.ts';
import type { EgressPolicy, EgressRequest } from '../policy/egress.ts';
import { PACKAGE_HOSTS } from '../policy/egress.ts';
import { EMPTY_POLICY } from '../policy/policy.ts';
import { declaredOnly } from '../policy/rights.ts';
import { checkDestination, hostAddresses, systemResolver } from '../policy/destination.ts';
import type { ResolvedAddress } from '../policy/destination.ts';
import { errorMessage } from '../util/errors.ts';
import { authority, EGRESS_APPROVAL_HOLD_MS, EGRESS_RESOLVE_TIMEOUT_MS } from './egress.ts';
import type { GatewayDeps } from './types.ts';

export interface EgressContext {
  agent: string;
  sandboxId: string;
  deps: GatewayDeps;
  /** This endpoint's keep-alive pool for forwarded plain HTTP; without one, each request connects anew. */
  pool?: Agent;
}

export type Admission =
  | { ok: true; address: string; family: 4 | 6; rule: string }
  | { ok: false; status: 403 | 502; reason: string; approval?: string };

const MAX_AUDITED_CHARS = 300;
const clip = (s: string): string => s.slice(0, MAX_AUDITED_CHARS);

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(Object.assign(new Error('timeout'), { code: 'ETIMEOUT' })), ms);
    p.then(resolve, reject).finally(() => clearTimeout(timer));
  });
}

async function judge(ctx: EgressContext, target: EgressRequest): Promise<Admission> {
  const egress = ctx.deps.egress;
  if (!egress) return { ok: false, status: 403, reason: 'no egress policy configured (default deny)' };
  let policy: EgressPolicy;
  try {
    policy = egress.policy(ctx.agent);
  } catch (err) {
    return { ok: false, status: 403, reason: `egress policy unavailable: ${errorMessage(err)}` };
  }
  const decision = await policyDecision(ctx, policy, target);
  if (decision.effect !== 'allow') return refusal(decision);
  const resolveMs = egress.timeouts?.resolveMs ?? EGRESS_RESOLVE_TIMEOUT_MS;
  const resolve = egress.resolve ?? systemResolver;
  const rule = decision.rule ?? 'policy';
  const dest = await checkDestination(
    target.host,
    { allow: true, rule, literal: decision.literal === true },
    {
      resolve: (host): Promise<ResolvedAddress[]> => withTimeout(resolve(host), resolveMs),
      localAddresses: egress.localAddresses ?? hostAddresses,
    },
  );
  if (!dest.ok) {
    const status = dest.reason.startsWith('cannot resolve') ? 502 : 403;
    return { ok: false, status, reason: `${dest.reason} (allowed by ${rule})` };
  }
  return { ok: true, address: dest.address, family: dest.family, rule };
}

function refusal(d: Decision & { approval?: string }): Admission {
  const reason = d.rule === undefined || d.effect === 'ask' ? d.reason : `${d.reason} (${d.rule})`;
  return { ok: false, status: 403, reason, ...(d.approval === undefined ? {} : { approval: d.approval }) };
}

/**
 * The egress decision through the policy decision point: the operator's rules over the agent's own egress rules
 * (the rule set decideEgress has always applied). A download from a package mirror is also `env.install`, which
 * an operator may hold for approval. An ask waits for a human up to the hold time, then refuses naming the approval.
 */
async function policyDecision(
  ctx: EgressContext,
  rules: EgressPolicy,
  target: EgressRequest,
): Promise<Decision & { approval?: string }> {
  const operator = ctx.deps.policy?.() ?? EMPTY_POLICY;
  const principal = { kind: 'agent' as const, name: ctx.agent };
  const resource = authority(target.host.toLowerCase().replace(/\.$/, ''), target.port);
  const context = { agent: { ...declaredOnly(ctx.agent), egress: rules }, egress: target };
  const payload = { host: target.host, port: target.port, method: target.method, path: target.path };
  const one = async (action: 'egress' | 'env.install'): Promise<Decision & { approval?: string }> => {
    const held = ctx.deps.approvals;
    const request = { principal, action, resource, payload };
    const at = (grant?: ApprovalGrant): Decision =>
      decide(operator, principal, action, resource, { ...context, ...(grant ? { approval: grant } : {}) });
    const d = at(held?.grant(request));
    if (d.effect !== 'ask') return d;
    if (held === undefined)
      return { ...d, effect: 'deny', reason: `${d.reason}; no approvals here, so denied` };
    const waitMs = ctx.deps.egress?.timeouts?.approvalHoldMs ?? EGRESS_APPROVAL_HOLD_MS;
    const outcome = await held.hold({ ...request, decision: d }, { waitMs });
    if (outcome.status === 'approved') return at(outcome.grant);
    return { effect: 'deny', reason: outcome.message, approval: outcome.id };
  };
  const egress = await one('egress');
  if (egress.effect !== 'allow' || !PACKAGE_HOSTS.includes(target.host.toLowerCase())) return egress;
  const install = await one('env.install');
  return install.effect === 'allow' ? egress : install;
}

/** Decides, resolves and audits one request; never throws (a failure is a denial). */
export async function admitEgress(ctx: EgressContext, target: EgressRequest): Promise<Admission> {
  let result: Admission;
  try {
    result = await judge(ctx, target);
  } catch (err) {
    result = { ok: false, status: 403, reason: `egress check failed: ${errorMessage(err)}` };
  }
  const base = { sandboxId: ctx.sandboxId, method: clip(target.method), path: clip(target.path) };
  try {
    // Awaited: an allow goes through only once its entry is stored (the write may be a batched commit).
    await ctx.deps.audit({
      actor: `agent:${ctx.agent}`,
      action: result.ok ? 'egress.allow' : 'egress.deny',
      subject: clip(authority(target.host, target.port)),
      detail: result.ok
        ? { ...base, rule: clip(result.rule), address: result.address }
        : { ...base, reason: clip(result.reason), ...(result.approval ? { approval: result.approval } : {}) },
    });
  } catch (err) {
    // An unrecorded allow must not go through: the audit trail covers every egress.
    ctx.deps.log.error('auditing an egress decision failed', { agent: ctx.agent, error: errorMessage(err) });
    if (result.ok) return { ok: false, status: 403, reason: 'egress audit failed; denied' };
  }
  return result;
}
