// Admission of one egress request: the agent's policy (read now), decideEgress, then one resolution and the
// SSRF guard; every outcome is audited, and an allowed request leaves with the exact address that was checked.
import type { Agent } from 'node:http';
import { decideEgress } from '../policy/egress.ts';
import type { EgressPolicy, EgressRequest } from '../policy/egress.ts';
import { checkDestination, hostAddresses, systemResolver } from '../policy/destination.ts';
import type { ResolvedAddress } from '../policy/destination.ts';
import { errorMessage } from '../util/errors.ts';
import { authority, EGRESS_RESOLVE_TIMEOUT_MS } from './egress.ts';
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
  | { ok: false; status: 403 | 502; reason: string };

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
  const decision = decideEgress(policy, target);
  if (!decision.allow) return { ok: false, status: 403, reason: decision.reason };
  const resolveMs = egress.timeouts?.resolveMs ?? EGRESS_RESOLVE_TIMEOUT_MS;
  const resolve = egress.resolve ?? systemResolver;
  const dest = await checkDestination(target.host, decision, {
    resolve: (host): Promise<ResolvedAddress[]> => withTimeout(resolve(host), resolveMs),
    localAddresses: egress.localAddresses ?? hostAddresses,
  });
  if (!dest.ok) {
    const status = dest.reason.startsWith('cannot resolve') ? 502 : 403;
    return { ok: false, status, reason: `${dest.reason} (allowed by ${decision.rule})` };
  }
  return { ok: true, address: dest.address, family: dest.family, rule: decision.rule };
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
    ctx.deps.audit({
      actor: `agent:${ctx.agent}`,
      action: result.ok ? 'egress.allow' : 'egress.deny',
      subject: clip(authority(target.host, target.port)),
      detail: result.ok
        ? { ...base, rule: clip(result.rule), address: result.address }
        : { ...base, reason: clip(result.reason) },
    });
  } catch (err) {
    // An unrecorded allow must not go through: the audit trail covers every egress.
    ctx.deps.log.error('auditing an egress decision failed', { agent: ctx.agent, error: errorMessage(err) });
    if (result.ok) return { ok: false, status: 403, reason: 'egress audit failed; denied' };
  }
  return result;
}
