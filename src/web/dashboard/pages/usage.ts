// Usage: tokens and cost per agent per day as charts, and each agent's budgets with how much is left.
import { barChart } from '../charts.ts';
import type { Html } from '../html.ts';
import { h, seg } from '../html.ts';
import { count, usd } from '../format.ts';
import type { Viewer } from '../layout.ts';
import { page, UI } from '../layout.ts';
import type { AgentUsage } from '../usage-data.ts';

function left(limit: number, spent: number, fmt: (n: number) => string): string {
  const rest = limit - spent;
  return rest > 0 ? `${fmt(rest)} left` : 'exhausted';
}

function budgetRows(u: AgentUsage): Html {
  const b = u.budget;
  if (b === undefined || (b.usdPerDay ?? b.usdPerMonth ?? b.tokensPerDay) === undefined)
    return h`<p class="muted">No budget: model calls are not limited by spend.</p>`;
  const rows: Html[] = [];
  if (b.usdPerDay !== undefined)
    rows.push(
      h`<tr>
        <td>per day</td>
        <td>${usd(b.usdPerDay)}</td>
        <td>${usd(u.today.usd)}${u.today.unpriced ? ' + ?' : ''}</td>
        <td>${u.today.unpriced ? 'unknown (unpriced model)' : left(b.usdPerDay, u.today.usd, usd)}</td>
      </tr>`,
    );
  if (b.usdPerMonth !== undefined)
    rows.push(
      h`<tr>
        <td>per month</td>
        <td>${usd(b.usdPerMonth)}</td>
        <td>${usd(u.month.usd)}${u.month.unpriced ? ' + ?' : ''}</td>
        <td>${u.month.unpriced ? 'unknown (unpriced model)' : left(b.usdPerMonth, u.month.usd, usd)}</td>
      </tr>`,
    );
  if (b.tokensPerDay !== undefined)
    rows.push(
      h`<tr>
        <td>tokens per day</td>
        <td>${count(b.tokensPerDay)}</td>
        <td>${count(u.today.tokens)}</td>
        <td>${left(b.tokensPerDay, u.today.tokens, count)}</td>
      </tr>`,
    );
  return h`<table class="budget">
    <thead>
      <tr>
        <th>Budget</th>
        <th>Limit</th>
        <th>Spent</th>
        <th>Left</th>
      </tr>
    </thead>
    <tbody>
      ${rows}
    </tbody>
  </table>`;
}

export function usagePage(opts: { viewer: Viewer; usage: AgentUsage[]; days: number }): Html {
  const sections = opts.usage.map((u) => {
    const unpriced = u.usd.some((x) => x === null);
    return h`<section class="card usage" data-agent="${u.agent}">
      <h2><a href="${UI}/agents/${seg(u.agent)}">${u.agent}</a></h2>
      <div class="charts">
        ${barChart({ title: 'Tokens per day', labels: u.days, values: u.tokens, format: count })}
        ${barChart({ title: `Cost per day${unpriced ? ' (priced models only)' : ''}`, labels: u.days, values: u.usd.map((x) => x ?? 0), format: (n) => usd(n) })}
      </div>
      <p>
        Last ${opts.days} days: ${count(u.tokens.reduce((a, b) => a + b, 0))} tokens,
        ${usd(u.usd.reduce<number>((a, b) => a + (b ?? 0), 0))}${unpriced ? ' + ?' : ''}
      </p>
      ${budgetRows(u)}
    </section>`;
  });
  return page({
    title: 'Usage',
    active: 'usage',
    viewer: opts.viewer,
    body: h`<nav class="tabs">
        ${[7, 14, 30].map(
          (d) => h`<a href="${UI}/usage?days=${d}" class="${d === opts.days ? 'active' : ''}">${d} days</a>`,
        )}
      </nav>
      ${sections.length === 0 ? h`<p class="empty">No agents.</p>` : sections}`,
  });
}
