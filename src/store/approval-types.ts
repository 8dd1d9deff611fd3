// Approvals in the store: an action held for a human, with its complete payload and the decision taken.
export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'expired';

export interface ApprovalRow {
  /** short, typeable: `ap-` and 8 hex digits */
  id: string;
  action: string;
  /** `operator:NAME`, `user:CHANNEL:ID` or `agent:NAME` */
  principal: string;
  resource: string;
  /** everything the action would do, exactly as the caller described it */
  payload: Record<string, unknown>;
  /** sha256 over principal, action, resource and payload: identical requests share it */
  payloadKey: string;
  /** why it was asked (the policy decision's reason) */
  reason: string;
  rule: string | null;
  createdAt: string;
  /** pending: when it lapses unanswered; approved: until when it lets the identical action through */
  expiresAt: string;
  status: ApprovalStatus;
  decidedBy: string | null;
  decidedAt: string | null;
  /** approved with --always: a rule was written to the policy file */
  always: boolean;
}

export interface ApprovalStore {
  /** The pending approval with this key, or a new one; `created` says which. Expired ones are marked first. */
  openApproval(a: {
    action: string;
    principal: string;
    resource: string;
    payload: Record<string, unknown>;
    payloadKey: string;
    reason: string;
    rule: string | null;
    expiresAt: string;
  }): { row: ApprovalRow; created: boolean };
  getApproval(id: string): ApprovalRow | undefined;
  /** Newest first. */
  listApprovals(q?: { status?: ApprovalStatus; limit?: number }): ApprovalRow[];
  /**
   * Decides a pending approval; throws approval_unknown, or approval_closed when it was already decided or has
   * expired (then it is marked expired). An approval's new expiresAt bounds how long the grant lasts.
   */
  decideApproval(
    id: string,
    d: { status: 'approved' | 'denied'; by: string; always: boolean; expiresAt: string },
  ): ApprovalRow;
  /** The approved approval with this key that has not expired, newest first. */
  approvedFor(payloadKey: string): ApprovalRow | undefined;
  /** Marks every pending approval past its time as expired; returns them. */
  expireApprovals(): ApprovalRow[];
}
