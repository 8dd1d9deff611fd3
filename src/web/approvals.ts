// GET/POST /v1/approvals: held actions with their complete payloads, and decisions on them. The caller is the
// authenticated operator (src/web/auth.ts); decide() checks that principal may decide approvals.
import { z } from 'zod';
import type { Approvals } from '../host/approvals.ts';
import type { Principal } from '../policy/actions.ts';
import { API_OPERATOR, callerOf } from './auth.ts';
import type { Route } from './http-util.ts';
import { HttpError, readJsonBody, sendJson } from './http-util.ts';

const STATUS = z.enum(['pending', 'approved', 'denied', 'expired']);
const Decide = z
  .object({
    decision: z.enum(['approve', 'deny']).describe('what to do with the held action'),
    always: z.boolean().optional().describe('approve and write an allow rule for exactly this action'),
  })
  .strict();
const ID = /^ap-[0-9a-f]{8}$/;

export function approvalRoutes(deps: {
  approvals: Approvals;
  principal?: Principal;
  maxBodyBytes?: number;
}): Route[] {
  const who = deps.principal ?? API_OPERATOR;
  const id = (raw: string | undefined): string => {
    if (!ID.test(raw ?? '')) throw new HttpError(404, 'approval_unknown', `no approval '${raw ?? ''}'`);
    return raw ?? '';
  };
  return [
    {
      method: 'GET',
      path: /^\/v1\/approvals$/,
      handler: (_req, res, _p, url) => {
        const raw = url.searchParams.get('status') ?? 'pending';
        const status = raw === 'all' ? undefined : STATUS.safeParse(raw).data;
        if (status === undefined && raw !== 'all')
          throw new HttpError(400, 'invalid_query', 'status is pending, approved, denied, expired or all');
        sendJson(res, 200, { approvals: deps.approvals.list(status === undefined ? {} : { status }) });
      },
    },
    {
      method: 'GET',
      path: /^\/v1\/approvals\/([^/]+)$/,
      handler: (_req, res, [raw]) => sendJson(res, 200, deps.approvals.show(id(raw))),
    },
    {
      method: 'POST',
      path: /^\/v1\/approvals\/([^/]+)$/,
      handler: async (req, res, [raw]) => {
        const approval = id(raw);
        const by = callerOf(req) ?? who;
        const body = await readJsonBody(req, deps.maxBodyBytes ?? 16 * 1024, Decide);
        const row =
          body.decision === 'approve'
            ? deps.approvals.approve(approval, by, { always: body.always === true })
            : deps.approvals.deny(approval, by);
        sendJson(res, 200, row);
      },
    },
  ];
}
