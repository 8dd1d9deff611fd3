// One agent: its definition at a glance, its runs as they happen (the client script follows the events
// stream), its sessions, and the whole history of one session (text, tool calls with arguments and output).
import type { AgentConfig } from '../../../config/schema.ts';
import type { ChatMessage } from '../../../protocol/transcript.ts';
import type { MessageRow } from '../../../store/types.ts';
import type { Html } from '../html.ts';
import { h, seg } from '../html.ts';
import type { Viewer } from '../layout.ts';
import { canChange, page, problem, UI } from '../layout.ts';

export interface SessionSummary {
  key: string;
  at: string;
}

function block(b: ChatMessage['content'][number]): Html {
  switch (b.type) {
    case 'text':
      return h`<div class="text">${b.text}</div>`;
    case 'tool_use':
      return h`<div class="tool-call">
        <span class="tool">${b.name}</span>
        <pre>${JSON.stringify(b.input, null, 2)}</pre>
      </div>`;
    case 'tool_result':
      return h`<div class="tool-result${b.isError ? ' is-error' : ''}"><pre>${b.content}</pre></div>`;
  }
}

function history(transcript: ChatMessage[], failed: MessageRow[]): Html {
  if (transcript.length === 0 && failed.length === 0)
    return h`<p class="empty">Nothing in this session yet.</p>`;
  return h`<ol class="history">
      ${transcript.map((m) => h`<li class="msg msg-${m.role}">${m.content.map(block)}</li>`)}
    </ol>
    ${
      failed.length === 0
        ? ''
        : h`<h3>Failed messages</h3>
            <ul class="failed">
              ${failed.map(
                (m) =>
                  h`<li>
                    <span class="muted">${m.createdAt}</span> ${m.text}
                    <div class="error">${m.error ?? ''}</div>
                  </li>`,
              )}
            </ul>`
    }`;
}

export function agentPage(opts: {
  viewer: Viewer;
  name: string;
  agent: AgentConfig | undefined;
  problem?: string;
  sessions: SessionSummary[];
  selected?: { key: string; transcript: ChatMessage[]; failed: MessageRow[] };
}): Html {
  const { name, agent } = opts;
  const a = `${UI}/agents/${seg(name)}`;
  const summary =
    agent === undefined
      ? ''
      : h`<dl class="card summary">
          <dt>Model</dt>
          <dd>${agent.model}</dd>
          <dt>Backend</dt>
          <dd>${agent.backend}</dd>
          <dt>Egress</dt>
          <dd>${agent.egress}${agent.allow.length > 0 ? `, allow ${agent.allow.join(', ')}` : ''}</dd>
          <dt>Tools</dt>
          <dd>${agent.tools.join(', ')}</dd>
          <dt>Paused</dt>
          <dd>${agent.paused ? 'yes: messages wait in its queue' : 'no'}</dd>
        </dl>`;
  return page({
    title: name,
    active: 'fleet',
    viewer: opts.viewer,
    body: h`${opts.problem === undefined ? '' : problem(opts.problem)}
      <p>
        <a href="${UI}/chat/${seg(name)}">Chat</a
        >${canChange(opts.viewer.principal) ? h` · <a href="${a}/edit">Edit</a>` : ''} ·
        <a href="${UI}/audit?agent=${seg(name)}">Audit</a>
      </p>
      ${summary}
      <section class="card">
        <h2>Live</h2>
        <ol class="live" id="live" data-events="${UI}/events?agent=${seg(name)}">
          <li class="muted">Waiting for the next run…</li>
        </ol>
      </section>
      <div class="split">
        <section class="card sessions">
          <h2>Sessions</h2>
          ${
            opts.sessions.length === 0
              ? h`<p class="empty">No sessions yet.</p>`
              : h`<ul>
                  ${opts.sessions.map((s) => h`<li class="${s.key === opts.selected?.key ? 'active' : ''}"><a href="${a}?session=${seg(s.key)}">${s.key}</a> <span class="muted">${s.at}</span></li>`)}
                </ul>`
          }
        </section>
        <section class="card session-history">
          <h2>${opts.selected === undefined ? 'History' : `History of ${opts.selected.key}`}</h2>
          ${opts.selected === undefined ? h`<p class="muted">Choose a session.</p>` : history(opts.selected.transcript, opts.selected.failed)}
        </section>
      </div>`,
  });
}
