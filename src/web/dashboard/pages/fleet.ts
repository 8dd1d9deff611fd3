// Fleet: every agent with its state, backend, model, last activity and today's spend, and what can be done to it.
import type { ChannelStatus } from '../../../channels/types.ts';
import type { Html } from '../html.ts';
import { h, seg } from '../html.ts';
import type { FleetRow } from '../fleet-state.ts';
import { ago, usd } from '../format.ts';
import type { Viewer } from '../layout.ts';
import { canChange, csrfField, notice, page, problem, UI } from '../layout.ts';

function stateLabel(r: FleetRow): string {
  switch (r.state) {
    case 'queued':
      return `queued ${r.queued}`;
    case 'running':
      return r.queued > 0 ? `running, queued ${r.queued}` : 'running';
    case 'paused':
      return r.queued > 0 ? `paused, queued ${r.queued}` : 'paused';
    case 'idle':
    case 'failing':
    case 'invalid':
      return r.state;
  }
}

function actions(r: FleetRow, v: Viewer): Html {
  const a = `${UI}/agents/${seg(r.name)}`;
  const view = h`<a href="${a}">View</a> <a href="${UI}/chat/${seg(r.name)}">Chat</a>`;
  if (!canChange(v.principal)) return view;
  const toggle = r.state === 'paused' ? 'resume' : 'pause';
  return h`${view} <a href="${a}/edit">Edit</a>
    <form method="post" action="${a}/${toggle}" class="inline">
      ${csrfField(v)}<button class="small">${toggle === 'pause' ? 'Pause' : 'Resume'}</button>
    </form>
    <form
      method="post"
      action="${a}/delete"
      class="inline"
      data-confirm="${`Delete agent ${r.name}? Its workspace is kept.`}"
    >
      ${csrfField(v)}<button class="small danger">Delete</button>
    </form>`;
}

/** Each channel's health: a failed or retrying one says why and what to do. */
function channelTable(channels: ChannelStatus[], now: Date): Html | '' {
  if (channels.length === 0) return '';
  return h`<h2>Channels</h2>
    <table class="fleet channels">
      <thead>
        <tr><th>Channel</th><th>Kind</th><th>State</th><th>Since</th><th>Problem</th></tr>
      </thead>
      <tbody>
        ${channels.map(
          (c) => h`<tr data-channel="${c.name}">
            <td data-label="Channel">${c.name}</td>
            <td data-label="Kind">${c.kind}</td>
            <td data-label="State"><span class="state state-${c.state}">${c.state}</span></td>
            <td data-label="Since" title="${c.since}">${ago(c.since, now)}</td>
            <td data-label="Problem">${c.detail ?? ''}${c.fix === undefined ? '' : h`<br /><span class="muted">${c.fix}</span>`}</td>
          </tr>`,
        )}
      </tbody>
    </table>`;
}

export function fleetPage(opts: {
  rows: FleetRow[];
  channels?: ChannelStatus[];
  viewer: Viewer;
  now: Date;
  flash?: string;
  error?: string;
}): Html {
  const { rows, viewer, now } = opts;
  const table =
    rows.length === 0
      ? h`<p class="empty">No agents yet.</p>`
      : h`<table class="fleet">
          <thead>
            <tr>
              <th>Agent</th>
              <th>State</th>
              <th>Backend</th>
              <th>Model</th>
              <th>Last activity</th>
              <th>Today</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            ${rows.map(
              (r) =>
                h`<tr data-agent="${r.name}">
                  <td data-label="Agent"><a href="${UI}/agents/${seg(r.name)}">${r.name}</a></td>
                  <td data-label="State">
                    <span class="state state-${r.state}" title="${r.problem ?? ''}">${stateLabel(r)}</span>
                  </td>
                  <td data-label="Backend">${r.backend}</td>
                  <td data-label="Model">${r.model}</td>
                  <td data-label="Last activity" title="${r.lastActivity ?? ''}">
                    ${ago(r.lastActivity, now)}
                  </td>
                  <td data-label="Today">${usd(r.todayUsd)}${r.unpriced ? ' + ?' : ''}</td>
                  <td class="actions">${actions(r, viewer)}</td>
                </tr>`,
            )}
          </tbody>
        </table>`;
  return page({
    title: 'Fleet',
    active: 'fleet',
    viewer,
    body: h`${opts.flash === undefined ? '' : notice(opts.flash)}${opts.error === undefined ? '' : problem(opts.error)}
    ${canChange(viewer.principal) ? h`<p><a class="button" href="${UI}/agents/new">New agent</a></p>` : ''}
    ${table} ${channelTable(opts.channels ?? [], now)}`,
  });
}
