// Egress: recent denials per agent, each with "allow this host", which writes the rule into the agent's file.
import type { AuditEntry } from '../../../store/types.ts';
import type { Html } from '../html.ts';
import { h } from '../html.ts';
import type { Viewer } from '../layout.ts';
import { canChange, csrfField, notice, page, problem, UI } from '../layout.ts';

/** The allow pattern for a denied `host:port`: plain `host` covers 80 and 443, other ports stay explicit. */
export function patternFor(target: string): string {
  const m = /^(.*):(\d+)$/.exec(target);
  if (m === null) return target;
  const [, host = target, port] = m;
  return port === '80' || port === '443' ? host.replace(/^\[(.*)\]$/, '$1') : target;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

export const agentOf = (e: AuditEntry): string => e.actor.replace(/^agent:/, '');

export function egressPage(opts: {
  viewer: Viewer;
  denials: AuditEntry[];
  flash?: string;
  error?: string;
}): Html {
  const agents = [...new Set(opts.denials.map(agentOf))].sort();
  const sections = agents.map((agent) => {
    const rows = opts.denials.filter((d) => agentOf(d) === agent).reverse();
    return h`<section class="card" data-agent="${agent}">
      <h2>${agent}</h2>
      <div class="scroll">
        <table class="egress">
          <thead>
            <tr>
              <th>Time</th>
              <th>Destination</th>
              <th>Request</th>
              <th>Why</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            ${rows.map((d) => {
              const pattern = patternFor(d.subject);
              const allow = canChange(opts.viewer.principal)
                ? h`<form method="post" action="${UI}/egress/allow" class="inline">
                    ${csrfField(opts.viewer)} <input type="hidden" name="agent" value="${agent}" /><input
                      type="hidden"
                      name="pattern"
                      value="${pattern}"
                    />
                    <button class="small">Allow ${pattern}</button>
                  </form>`
                : '';
              return h`<tr>
                <td data-label="Time">${d.at}</td>
                <td data-label="Destination">${d.subject}</td>
                <td data-label="Request">${str(d.detail['method'])} ${str(d.detail['path'])}</td>
                <td data-label="Why">${str(d.detail['reason'])}</td>
                <td>${allow}</td>
              </tr>`;
            })}
          </tbody>
        </table>
      </div>
    </section>`;
  });
  return page({
    title: 'Egress',
    active: 'egress',
    viewer: opts.viewer,
    body: h`${opts.flash === undefined ? '' : notice(opts.flash)}${opts.error === undefined ? '' : problem(opts.error)}
      <p class="muted">
        Recent requests the gateway refused. Allowing a host adds it to the agent's <code>allow:</code> list,
        as <code>corral agent set NAME --allow HOST</code> does.
      </p>
      ${sections.length === 0 ? h`<p class="empty">No denied requests.</p>` : sections}`,
  });
}
