// Audit: the hash-chained trail filtered by agent, session and action, and a button that verifies the chain.
import type { AuditEntry } from '../../../store/types.ts';
import type { Html } from '../html.ts';
import { h } from '../html.ts';
import type { Viewer } from '../layout.ts';
import { csrfField, page, UI } from '../layout.ts';

export interface AuditFilters {
  agent: string;
  session: string;
  action: string;
}

export type Verdict = { ok: true; count: number } | { ok: false; brokenAt: number; reason: string };

function verdictBox(v: Verdict): Html {
  return v.ok
    ? h`<div class="notice verify-ok" role="status">Audit chain intact: ${v.count} entries.</div>`
    : h`<div class="problem verify-broken" role="alert">
        <strong>Audit chain broken at entry ${v.brokenAt}</strong><br />${v.reason}
      </div>`;
}

export function auditPage(opts: {
  viewer: Viewer;
  filters: AuditFilters;
  rows: AuditEntry[];
  limit: number;
  verdict?: Verdict;
}): Html {
  const f = opts.filters;
  return page({
    title: 'Audit',
    active: 'audit',
    viewer: opts.viewer,
    body: h`${opts.verdict === undefined ? '' : verdictBox(opts.verdict)}
      <form method="get" action="${UI}/audit" class="filters">
        <label>Agent <input name="agent" value="${f.agent}" /></label>
        <label>Session <input name="session" value="${f.session}" /></label>
        <label>Action <input name="action" value="${f.action}" placeholder="egress or egress.deny" /></label>
        <button type="submit">Filter</button>
      </form>
      <form method="post" action="${UI}/audit/verify" class="inline">
        ${csrfField(opts.viewer)}<button id="verify">Verify chain</button>
      </form>
      <p class="muted">The newest ${opts.limit} matching entries, newest last.</p>
      <div class="scroll">
        <table class="audit">
          <thead>
            <tr>
              <th>Seq</th>
              <th>Time</th>
              <th>Actor</th>
              <th>Action</th>
              <th>Subject</th>
              <th>Detail</th>
            </tr>
          </thead>
          <tbody>
            ${opts.rows.map(
              (r) =>
                h`<tr>
                  <td data-label="Seq">${r.seq}</td>
                  <td data-label="Time">${r.at}</td>
                  <td data-label="Actor">${r.actor}</td>
                  <td data-label="Action">${r.action}</td>
                  <td data-label="Subject">${r.subject}</td>
                  <td data-label="Detail"><code>${JSON.stringify(r.detail)}</code></td>
                </tr>`,
            )}
          </tbody>
        </table>
      </div>`,
  });
}
