// Approvals on SQLite. Expiry is judged against the store's clock whenever an approval is read or decided.
import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import { z } from 'zod';
import { canonicalJson } from '../audit/chain.ts';
import { CorralError } from '../util/errors.ts';
import type { ApprovalRow, ApprovalStore } from './approval-types.ts';
import { parseRow } from './sqlite-rows.ts';

const ApprovalDb = z
  .object({
    id: z.string(),
    action: z.string(),
    principal: z.string(),
    resource: z.string(),
    payload: z.string(),
    payload_key: z.string(),
    reason: z.string(),
    rule: z.string().nullable(),
    created_at: z.string(),
    expires_at: z.string(),
    status: z.enum(['pending', 'approved', 'denied', 'expired']),
    decided_by: z.string().nullable(),
    decided_at: z.string().nullable(),
    always: z.union([z.literal(0), z.literal(1)]),
  })
  .transform((r): ApprovalRow => ({
    id: r.id,
    action: r.action,
    principal: r.principal,
    resource: r.resource,
    payload: z.record(z.string(), z.unknown()).parse(JSON.parse(r.payload)),
    payloadKey: r.payload_key,
    reason: r.reason,
    rule: r.rule,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    status: r.status,
    decidedBy: r.decided_by,
    decidedAt: r.decided_at,
    always: r.always === 1,
  }));

export function createApprovalStore(db: Database.Database, now: () => string): ApprovalStore {
  const p = (sql: string) => db.prepare(sql);
  const q = {
    insert: p(
      `INSERT INTO approvals (id, action, principal, resource, payload, payload_key, reason, rule, created_at,
         expires_at, status, always)
       VALUES (@id, @action, @principal, @resource, @payload, @payloadKey, @reason, @rule, @now, @expiresAt,
         'pending', 0)`,
    ),
    get: p('SELECT * FROM approvals WHERE id = ?'),
    pendingFor: p(
      `SELECT * FROM approvals WHERE payload_key = ? AND status = 'pending' ORDER BY created_at DESC LIMIT 1`,
    ),
    approvedFor: p(
      `SELECT * FROM approvals WHERE payload_key = ? AND status = 'approved' AND expires_at > ?
       ORDER BY decided_at DESC LIMIT 1`,
    ),
    list: p(
      `SELECT * FROM approvals WHERE (@status IS NULL OR status = @status)
       ORDER BY created_at DESC, rowid DESC LIMIT @limit`,
    ),
    lapsed: p(`SELECT * FROM approvals WHERE status = 'pending' AND expires_at <= ?`),
    expire: p(`UPDATE approvals SET status = 'expired' WHERE status = 'pending' AND expires_at <= ?`),
    decide: p(
      `UPDATE approvals SET status = @status, decided_by = @by, decided_at = @now, always = @always,
         expires_at = @expiresAt
       WHERE id = @id AND status = 'pending' AND expires_at > @now`,
    ),
  };
  const row = (r: unknown): ApprovalRow => parseRow(ApprovalDb, r, 'approvals');
  const get = (id: string): ApprovalRow | undefined => {
    const r: unknown = q.get.get(id);
    return r === undefined ? undefined : row(r);
  };
  const expire = db.transaction((): ApprovalRow[] => {
    const t = now();
    const lapsed = q.lapsed.all(t).map(row);
    q.expire.run(t);
    return lapsed.map((a) => ({ ...a, status: 'expired' as const }));
  });
  const open = db.transaction((a: Parameters<ApprovalStore['openApproval']>[0]) => {
    expire();
    const pending: unknown = q.pendingFor.get(a.payloadKey);
    if (pending !== undefined) return { row: row(pending), created: false };
    const id = `ap-${randomBytes(4).toString('hex')}`;
    q.insert.run({ ...a, id, payload: canonicalJson(a.payload), now: now() });
    const created = get(id);
    if (created === undefined) throw new CorralError('internal', `approval ${id} vanished`);
    return { row: created, created: true };
  });
  const decideOne = db.transaction((id: string, d: Parameters<ApprovalStore['decideApproval']>[1]) => {
    expire();
    const before = get(id);
    if (before === undefined)
      throw new CorralError(
        'approval_unknown',
        `no approval '${id}'`,
        'list them with: corral approvals list',
      );
    const changed = q.decide.run({ id, ...d, always: d.always ? 1 : 0, now: now() }).changes;
    if (changed === 0)
      throw new CorralError(
        'approval_closed',
        `approval ${id} is ${before.status}${before.decidedBy === null ? '' : ` (by ${before.decidedBy})`}`,
        'only a pending approval can be decided; the action asks again if it is retried',
      );
    const after = get(id);
    if (after === undefined) throw new CorralError('internal', `approval ${id} vanished`);
    return after;
  });
  return {
    openApproval: (a) => open.immediate(a),
    getApproval: (id) => {
      expire();
      return get(id);
    },
    listApprovals: (opts = {}) => {
      expire();
      return q.list.all({ status: opts.status ?? null, limit: opts.limit ?? -1 }).map(row);
    },
    decideApproval: (id, d) => decideOne.immediate(id, d),
    approvedFor: (key) => {
      const r: unknown = q.approvedFor.get(key, now());
      return r === undefined ? undefined : row(r);
    },
    expireApprovals: () => expire.immediate(),
  };
}
