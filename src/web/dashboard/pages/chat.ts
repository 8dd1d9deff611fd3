// Chat with an agent in the browser: the web channel. Messages go through the same intake as the HTTP API; the
// client script shows the reply as it streams (events), and the page works without script (post, reload).
import type { ConversationEntry, FileView } from '../../../host/daemon/messages.ts';
import type { Html } from '../html.ts';
import { h, seg } from '../html.ts';
import type { Viewer } from '../layout.ts';
import { canChange, csrfField, page, problem, UI } from '../layout.ts';

/** Download links for the files an agent sent with a reply (the URL is the dashboard's, behind the login). */
function fileLinks(files: FileView[]): Html | string {
  if (files.length === 0) return '';
  return h`<ul class="files">
    ${files.map(
      (f) =>
        h`<li><a href="${UI}/files/${seg(f.messageId)}/${seg(f.id)}" download="${f.name}">${f.name}</a>
          <span class="muted">${formatSize(f.size)}</span>${f.caption === null ? '' : h` — ${f.caption}`}</li>`,
    )}
  </ul>`;
}

const formatSize = (n: number): string =>
  n < 1024
    ? `${n} B`
    : n < 1024 * 1024
      ? `${(n / 1024).toFixed(1)} KiB`
      : `${(n / 1024 / 1024).toFixed(1)} MiB`;

export function chatPage(opts: {
  viewer: Viewer;
  agent: string;
  thread: string;
  entries: ConversationEntry[];
  error?: string;
}): Html {
  const { agent, thread } = opts;
  const form = canChange(opts.viewer.principal)
    ? h`<form method="post" action="${UI}/chat/${seg(agent)}" id="chat-form" class="chat-form">
        ${csrfField(opts.viewer)}
        <input type="hidden" name="thread" value="${thread}" />
        <textarea name="text" id="chat-text" rows="3" required placeholder="Message ${agent}"></textarea>
        <button type="submit">Send</button>
      </form>`
    : h`<p class="muted">Viewers can read conversations but not send messages.</p>`;
  return page({
    title: `Chat with ${agent}`,
    active: 'fleet',
    viewer: opts.viewer,
    body: h`${opts.error === undefined ? '' : problem(opts.error)}
      <p class="muted">
        Thread <code>${thread}</code> ·
        <a href="${UI}/chat/${seg(agent)}?thread=${seg(`web-${Date.now().toString(36)}`)}">new thread</a> ·
        <a href="${UI}/agents/${seg(agent)}?session=${seg(`web:${thread}`)}">run details</a>
      </p>
      <ol
        class="chat"
        id="chat"
        data-agent="${agent}"
        data-thread="${thread}"
        data-events="${UI}/events?agent=${seg(agent)}"
      >
        ${opts.entries.map(
          (e) =>
            h`<li class="msg msg-${e.role}" data-id="${e.id}">
              <div class="text">${e.text}</div>
              ${fileLinks(e.files ?? [])}${
                e.status === 'failed' ? h`<div class="error">${e.error ?? 'failed'}</div>` : ''
              }${e.role === 'user' && e.status !== 'done' && e.status !== 'failed' ? h`<div class="status">${e.status}</div>` : ''}
            </li>`,
        )}
      </ol>
      ${form}`,
  });
}
