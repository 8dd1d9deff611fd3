// One privileged action through the decision point, for host-side callers (the CLI, the launcher, the API):
// decide, audit the decision, and on `ask` hold the action for a human before deciding again.
import type { HeldAction } from '../policy/approval-port.ts';
import { principalText } from '../policy/actions.ts';
import type { Decision, DecisionContext } from '../policy/decide.ts';
import { decide } from '../policy/decide.ts';
import type { LoadedPolicy } from '../policy/policy.ts';
import { CorralError } from '../util/errors.ts';
import type { Approvals, AuditFn } from './approvals.ts';

export interface Governance {
  policy: () => LoadedPolicy;
  approvals: Approvals;
  audit: AuditFn;
}

export interface AuthorizeOptions {
  /** how long to hold an `ask` for a decision; 0 answers at once with the pending approval */
  waitMs?: number;
  signal?: AbortSignal;
  /** told once when the action starts waiting, e.g. to print which approval to approve */
  onHeld?: (message: string, approvalId: string) => void;
}

export type Authorized = Decision & { approval?: string };

export async function authorize(
  gov: Governance,
  req: HeldAction & { context?: DecisionContext },
  opts: AuthorizeOptions = {},
): Promise<Authorized> {
  const at = (): Decision => {
    const grant = gov.approvals.grant(req);
    return decide(gov.policy(), req.principal, req.action, req.resource, {
      ...req.context,
      ...(grant ? { approval: grant } : {}),
    });
  };
  const audited = (d: Authorized): Authorized => {
    gov.audit({
      actor: principalText(req.principal),
      action: 'policy.decide',
      subject: req.resource,
      detail: {
        action: req.action,
        effect: d.effect,
        reason: d.reason,
        rule: d.rule ?? null,
        ...(d.approval === undefined ? {} : { approval: d.approval }),
      },
    });
    return d;
  };
  const first = audited(at());
  if (first.effect !== 'ask') return first;
  const pending = await gov.approvals.hold({ ...req, decision: first }, { waitMs: 0 });
  if (pending.status === 'pending' && (opts.waitMs ?? 0) > 0) opts.onHeld?.(pending.message, pending.id);
  const settled =
    pending.status === 'pending' && (opts.waitMs ?? 0) > 0
      ? await gov.approvals.hold({ ...req, decision: first }, opts)
      : pending;
  // still pending: the action is not taken, and says which approval it waits for
  if (settled.status !== 'approved') {
    const effect = settled.status === 'pending' ? 'ask' : 'deny';
    return audited({ effect, reason: settled.message, rule: `approval:${settled.id}`, approval: settled.id });
  }
  return audited({ ...at(), approval: settled.id });
}

/** Throws policy_denied (with the reason) unless the decision is allow. */
export function mustAllow(d: Authorized, what: string): void {
  if (d.effect === 'allow') return;
  throw new CorralError(
    d.approval === undefined ? 'policy_denied' : 'approval_required',
    `${what}: ${d.reason}`,
    d.approval === undefined
      ? 'see docs/governance.md to change the policy'
      : `corral approvals show ${d.approval}`,
  );
}
