// Approvals: actions the policy held for a human, each with its complete payload, approve or deny.
import type { ApprovalRow } from '../../../store/approval-types.ts';
import type { Html } from '../html.ts';
import { h, seg } from '../html.ts';
import type { Viewer } from '../layout.ts';
import { canChange, csrfField, notice, page, problem, UI } from '../layout.ts';

const STATUSES = ['pending', 'approved', 'denied', 'expired', 'all'] as const;

function card(a: ApprovalRow, v: Viewer): Html {
  const decide =
    a.status === 'pending' && canChange(v.principal)
      ? h`<form method="post" action="${UI}/approvals/${seg(a.id)}" class="decide">
          ${csrfField(v)}
          <button name="decision" value="approve">Approve</button>
          <button name="decision" value="deny" class="danger">Deny</button>
          <label class="check"
            ><input type="checkbox" name="always" value="1" /> always (write an allow rule)</label
          >
        </form>`
      : '';
  return h`<article class="card approval" data-approval="${a.id}">
    <h2>${a.action} <small>${a.resource}</small></h2>
    <dl>
      <dt>Approval</dt>
      <dd>${a.id}</dd>
      <dt>Status</dt>
      <dd>
        <span class="state state-${a.status}">${a.status}</span
        >${a.decidedBy === null ? '' : ` by ${a.decidedBy} at ${a.decidedAt ?? ''}`}${a.always ? ' (always)' : ''}
      </dd>
      <dt>Principal</dt>
      <dd>${a.principal}</dd>
      <dt>Why</dt>
      <dd>${a.reason}${a.rule === null ? '' : ` (${a.rule})`}</dd>
      <dt>Created</dt>
      <dd>${a.createdAt}</dd>
      <dt>Expires</dt>
      <dd>${a.expiresAt}</dd>
    </dl>
    <details open>
      <summary>Payload</summary>
      <pre>${JSON.stringify(a.payload, null, 2)}</pre>
    </details>
    ${decide}
  </article>`;
}

export function approvalsPage(opts: {
  viewer: Viewer;
  rows: ApprovalRow[];
  status: string;
  flash?: string;
  error?: string;
}): Html {
  return page({
    title: 'Approvals',
    active: 'approvals',
    viewer: opts.viewer,
    body: h`${opts.flash === undefined ? '' : notice(opts.flash)}${opts.error === undefined ? '' : problem(opts.error)}
      <nav class="tabs">
        ${STATUSES.map(
          (s) =>
            h`<a href="${UI}/approvals?status=${s}" class="${s === opts.status ? 'active' : ''}">${s}</a>`,
        )}
      </nav>
      ${opts.rows.length === 0 ? h`<p class="empty">No ${opts.status === 'all' ? '' : opts.status} approvals.</p>` : opts.rows.map((a) => card(a, opts.viewer))}`,
  });
}
