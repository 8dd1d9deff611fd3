// How a caller that met an `ask` holds its action for a human: the port the host's approvals service implements
// (src/host/approvals.ts). Actions are matched by principal, action, resource and their complete payload.
import type { Action, Principal } from './actions.ts';
import type { ApprovalGrant, Decision } from './decide.ts';

export interface HeldAction {
  principal: Principal;
  action: Action;
  resource: string;
  /** everything the action would do, shown to the approver as it is (never a summary) */
  payload: Record<string, unknown>;
}

export type HoldOutcome =
  | { status: 'approved'; id: string; grant: ApprovalGrant }
  | { status: 'denied' | 'expired' | 'pending'; id: string; message: string };

export interface ApprovalPort {
  /** An approved, unexpired approval for exactly this action, to pass to decide(). */
  grant(a: HeldAction): ApprovalGrant | undefined;
  /**
   * Records an approval for the action (or finds the pending one for the same payload) and waits for a decision
   * up to `waitMs` (0: do not wait). `pending` means nobody decided in time: the action must not go ahead.
   */
  hold(
    a: HeldAction & { decision: Decision },
    opts?: { waitMs?: number; signal?: AbortSignal },
  ): Promise<HoldOutcome>;
}
