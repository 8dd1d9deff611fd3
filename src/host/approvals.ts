// The approvals service: holds an action an `ask` decision stopped until an operator approves or denies it (from
// the CLI, the API, or another process: the store is the meeting point), expires it, and writes `--always` rules.
import { createHash } from 'node:crypto';
import { appendPolicyRule } from '../config/policy-file.ts';
import { canonicalJson } from '../audit/chain.ts';
import type { Action, Principal } from '../policy/actions.ts';
import { isAction, principalText } from '../policy/actions.ts';
import type { ApprovalPort, HeldAction, HoldOutcome } from '../policy/approval-port.ts';
import type { ApprovalGrant } from '../policy/decide.ts';
import { decide } from '../policy/decide.ts';
import type { LoadedPolicy } from '../policy/policy.ts';
import type { ApprovalRow, ApprovalStatus } from '../store/approval-types.ts';
import type { Store } from '../store/types.ts';
import { CorralError } from '../util/errors.ts';

/** How long a pending approval waits for a decision, and how long an approval lets the identical action through. */
export const APPROVAL_TTL_MS = 60 * 60_000;
/** How often a held action looks for a decision taken by another process. */
export const APPROVAL_POLL_MS = 250;

export type AuditFn = (e: {
  actor: string;
  action: string;
  subject: string;
  detail?: Record<string, unknown>;
}) => void;

export interface ApprovalsDeps {
  store: Store;
  policy: () => LoadedPolicy;
  /** where `approve --always` appends its rule */
  policyFile: string;
  audit: AuditFn;
  clock?: () => Date;
  ttlMs?: number;
  pollMs?: number;
}

export interface Approvals extends ApprovalPort {
  list(q?: { status?: ApprovalStatus; limit?: number }): ApprovalRow[];
  show(id: string): ApprovalRow;
  approve(id: string, by: Principal, opts?: { always?: boolean }): ApprovalRow;
  deny(id: string, by: Principal): ApprovalRow;
}

export function approvalKey(
  a: Pick<HeldAction, 'action' | 'resource' | 'payload'> & { principal: string },
): string {
  const text = canonicalJson({
    principal: a.principal,
    action: a.action,
    resource: a.resource,
    payload: a.payload,
  });
  return createHash('sha256').update(text).digest('hex');
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

export function createApprovals(deps: ApprovalsDeps): Approvals {
  const { store } = deps;
  const ttl = deps.ttlMs ?? APPROVAL_TTL_MS;
  const clock = deps.clock ?? (() => new Date());
  const later = (): string => new Date(clock().getTime() + ttl).toISOString();
  const wakers = new Map<string, Set<() => void>>();
  const wake = (id: string): void => wakers.get(id)?.forEach((w) => w());

  const sweep = (): void => {
    for (const a of store.expireApprovals())
      deps.audit({
        actor: 'host',
        action: 'approval.expire',
        subject: a.resource,
        detail: { approval: a.id, action: a.action, principal: a.principal, expiresAt: a.expiresAt },
      });
  };
  const grantOf = (row: ApprovalRow): ApprovalGrant => ({
    id: row.id,
    principal: row.principal,
    action: row.action,
    resource: row.resource,
    decidedBy: row.decidedBy ?? 'unknown',
  });
  const outcome = (row: ApprovalRow): HoldOutcome => {
    const what = `${row.action} on ${row.resource}`;
    switch (row.status) {
      case 'approved':
        return { status: 'approved', id: row.id, grant: grantOf(row) };
      case 'denied':
        return {
          status: 'denied',
          id: row.id,
          message: `approval ${row.id} (${what}) was denied by ${row.decidedBy ?? 'an operator'}`,
        };
      case 'expired':
        return {
          status: 'expired',
          id: row.id,
          message: `approval ${row.id} (${what}) expired at ${row.expiresAt} without a decision; the action was not taken`,
        };
      case 'pending':
        return {
          status: 'pending',
          id: row.id,
          message: `${what} waits for approval ${row.id} (an operator runs: corral approvals approve ${row.id}); retry once it is approved, before ${row.expiresAt}`,
        };
    }
  };

  async function waitFor(id: string, waitMs: number, signal?: AbortSignal): Promise<ApprovalRow> {
    const until = Date.now() + waitMs;
    let wakeUp: () => void = () => undefined;
    const set = wakers.get(id) ?? new Set();
    wakers.set(id, set);
    try {
      for (;;) {
        sweep();
        const row = store.getApproval(id);
        if (row === undefined) throw new CorralError('approval_unknown', `approval ${id} disappeared`);
        const left = until - Date.now();
        if (row.status !== 'pending' || left <= 0 || signal?.aborted === true) return row;
        const inner = new AbortController();
        wakeUp = () => inner.abort();
        set.add(wakeUp);
        const onAbort = (): void => inner.abort();
        signal?.addEventListener('abort', onAbort, { once: true });
        await sleep(Math.min(deps.pollMs ?? APPROVAL_POLL_MS, left), inner.signal);
        signal?.removeEventListener('abort', onAbort);
        set.delete(wakeUp);
      }
    } finally {
      set.delete(wakeUp);
      if (set.size === 0) wakers.delete(id);
    }
  }

  function decideOne(id: string, by: Principal, status: 'approved' | 'denied', always: boolean): ApprovalRow {
    const who = principalText(by);
    const may = decide(deps.policy(), by, 'approval.decide', `approval:${id}`);
    deps.audit({
      actor: who,
      action: 'policy.decide',
      subject: `approval:${id}`,
      detail: { action: 'approval.decide', effect: may.effect, reason: may.reason, rule: may.rule ?? null },
    });
    if (may.effect !== 'allow')
      throw new CorralError('policy_denied', `${who} may not decide approvals: ${may.reason}`);
    sweep();
    const before = store.getApproval(id);
    if (always && before !== undefined && /\*/.test(before.principal + before.resource))
      throw new CorralError(
        'approval_always_unsafe',
        `approval ${id} names a '*', which a rule would read as a wildcard`,
        'approve it without --always, or write a rule by hand in policy.yaml',
      );
    const row = store.decideApproval(id, { status, by: who, always, expiresAt: later() });
    deps.audit({
      actor: who,
      action: status === 'approved' ? 'approval.approve' : 'approval.deny',
      subject: row.resource,
      detail: { approval: id, action: row.action, principal: row.principal, always, payload: row.payload },
    });
    if (always && status === 'approved') {
      const rule = {
        id: `always-${id}`,
        effect: 'allow' as const,
        action: approvalAction(row),
        principal: row.principal,
        resource: row.resource,
        reason: `approved always by ${who} at ${row.decidedAt ?? ''} (approval ${id})`,
      };
      appendPolicyRule(deps.policyFile, rule);
      deps.audit({ actor: who, action: 'config.change', subject: deps.policyFile, detail: { added: rule } });
    }
    wake(id);
    return row;
  }

  return {
    grant(a) {
      const row = store.approvedFor(approvalKey({ ...a, principal: principalText(a.principal) }));
      return row === undefined ? undefined : grantOf(row);
    },
    async hold(a, opts = {}) {
      sweep();
      const principal = principalText(a.principal);
      const { row, created } = store.openApproval({
        action: a.action,
        principal,
        resource: a.resource,
        payload: a.payload,
        payloadKey: approvalKey({ ...a, principal }),
        reason: a.decision.reason,
        rule: a.decision.rule ?? null,
        expiresAt: later(),
      });
      if (created)
        deps.audit({
          actor: principal,
          action: 'approval.request',
          subject: a.resource,
          detail: {
            approval: row.id,
            action: a.action,
            payload: a.payload,
            reason: row.reason,
            rule: row.rule,
            expiresAt: row.expiresAt,
          },
        });
      const waitMs = opts.waitMs ?? 0;
      return outcome(waitMs > 0 ? await waitFor(row.id, waitMs, opts.signal) : row);
    },
    list(q) {
      sweep();
      return store.listApprovals(q);
    },
    show(id) {
      sweep();
      const row = store.getApproval(id);
      if (row === undefined)
        throw new CorralError(
          'approval_unknown',
          `no approval '${id}'`,
          'list them with: corral approvals list',
        );
      return row;
    },
    approve: (id, by, opts = {}) => decideOne(id, by, 'approved', opts.always === true),
    deny: (id, by) => decideOne(id, by, 'denied', false),
  };
}

function approvalAction(row: ApprovalRow): Action {
  if (!isAction(row.action))
    throw new CorralError('approval_invalid', `approval ${row.id} has an unknown action`);
  return row.action;
}
