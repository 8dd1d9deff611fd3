// The dashboard's one client script: live YAML validation, chat over the events stream, the live run view,
// confirmations. It builds every node with textContent (never innerHTML), so nothing it shows can inject markup.
'use strict';
/* global document, window, fetch, URLSearchParams, EventSource, setTimeout, clearTimeout */

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.getAttribute('content') ?? '';

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

async function post(url, fields) {
  const res = await fetch(url, {
    method: 'POST',
    credentials: 'same-origin',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
      'x-csrf-token': csrf(),
    },
    body: new URLSearchParams(fields).toString(),
  });
  const body = await res.json().catch(() => ({}));
  return { status: res.status, body };
}

const EVENT_TYPES = [
  'message.accepted',
  'run.started',
  'run.text',
  'tool.call',
  'tool.result',
  'egress',
  'limit.hit',
  'run.done',
  'run.failed',
  'run.requeued',
  'reply',
  'agent.loaded',
  'agent.invalid',
  'agent.removed',
];

/** Follows the events stream; the browser reconnects by itself (with Last-Event-ID). */
function follow(url, onEvent) {
  const source = new EventSource(url);
  for (const type of EVENT_TYPES)
    source.addEventListener(type, (e) => {
      try {
        onEvent(type, JSON.parse(e.data));
      } catch {
        // a malformed event is skipped, the stream goes on
      }
    });
  return source;
}

function confirmations() {
  for (const form of document.querySelectorAll('form[data-confirm]'))
    form.addEventListener('submit', (e) => {
      if (!window.confirm(form.dataset.confirm)) e.preventDefault();
    });
}

function liveValidation() {
  const area = document.querySelector('textarea[data-validate]');
  const out = document.getElementById('validation');
  if (!area || !out) return;
  let timer;
  let seq = 0;
  const check = async () => {
    const mine = ++seq;
    const { body } = await post(area.dataset.validate, { yaml: area.value, name: area.dataset.name ?? '' });
    if (mine !== seq) return; // an older answer arriving late
    out.replaceChildren();
    if (body.ok) return void out.append(el('p', 'ok', 'Valid.'));
    const list = el('ul', 'problems');
    for (const p of body.problems ?? []) {
      const item = el('li');
      if (p.line !== null && p.line !== undefined) item.append(el('span', 'line', `line ${p.line}`), ' ');
      item.append(p.message);
      list.append(item);
    }
    out.append(list);
  };
  area.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => void check().catch(() => undefined), 300);
  });
}

function chat() {
  const list = document.getElementById('chat');
  const form = document.getElementById('chat-form');
  if (!list) return;
  const { thread } = list.dataset;
  const mine = new Map(); // messageId → the assistant bubble being filled
  const bubble = (role, text) => {
    const li = el('li', `msg msg-${role}`);
    const body = el('div', 'text', text);
    li.append(body);
    list.append(li);
    li.scrollIntoView({ block: 'end' });
    return { li, body };
  };
  follow(list.dataset.events, (type, e) => {
    if (type === 'run.text' && mine.has(e.messageId)) {
      mine.get(e.messageId).body.textContent += e.delta;
    } else if (type === 'reply' && e.thread === thread) {
      const b = mine.get(e.messageId) ?? bubble('assistant', '');
      b.body.textContent = e.text;
      if (Array.isArray(e.files) && e.files.length > 0) {
        const ul = el('ul', 'files');
        for (const f of e.files) {
          const a = el('a', '', f.name);
          a.href = `/ui/files/${encodeURIComponent(e.messageId)}/${encodeURIComponent(f.id)}`;
          a.download = f.name;
          const li = el('li');
          li.append(a, ' ', el('span', 'muted', `${f.size} B`));
          ul.append(li);
        }
        b.li.append(ul);
      }
      b.li.classList.add('done');
      mine.delete(e.messageId);
    } else if (type === 'run.failed' && mine.has(e.messageId)) {
      const b = mine.get(e.messageId);
      b.li.append(el('div', 'error', e.error));
      mine.delete(e.messageId);
    }
  });
  form?.addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = form.elements.text.value;
    if (!text.trim()) return;
    const { status, body } = await post(form.action, { text, thread, _csrf: csrf() });
    if (status !== 202) {
      list.append(el('li', 'error', body.error?.message ?? `failed (${status})`));
      return;
    }
    form.elements.text.value = '';
    bubble('user', text);
    if (body.status === 'held') return void list.append(el('li', 'notice', body.message));
    mine.set(body.id, bubble('assistant', ''));
  });
}

function live() {
  const list = document.getElementById('live');
  if (!list) return;
  let stream; // the text of the run being streamed
  const add = (cls, text) => {
    const li = el('li', cls, text);
    list.append(li);
    while (list.children.length > 300) list.firstElementChild.remove();
    return li;
  };
  follow(list.dataset.events, (type, e) => {
    if (list.firstElementChild?.classList.contains('muted')) list.replaceChildren();
    switch (type) {
      case 'run.started':
        add('ev-run', `run started (message ${e.messageId}, attempt ${e.attempt})`);
        stream = undefined;
        break;
      case 'run.text':
        if (!stream) stream = add('stream', '');
        stream.textContent += e.delta;
        break;
      case 'tool.call': {
        const li = add('ev-tool', `tool ${e.name} `);
        li.append(el('code', '', e.input));
        stream = undefined;
        break;
      }
      case 'tool.result': {
        const li = add(
          e.isError ? 'ev-failed' : 'ev-tool',
          `result in ${e.durationMs} ms${e.isError ? ' (error)' : ''}`,
        );
        if (e.output) li.append(el('pre', '', e.output));
        break;
      }
      case 'egress':
        add(
          e.allowed ? 'ev-egress-allow' : 'ev-egress-deny',
          `egress ${e.allowed ? 'allowed' : 'denied'}: ${e.target} ${e.reason}`,
        );
        break;
      case 'limit.hit':
        add('ev-limit', `limit hit: ${e.message}`);
        break;
      case 'run.done':
        add('ev-run', `run done (${e.stopReason}, ${e.ms} ms)`);
        stream = undefined;
        break;
      case 'run.failed':
        add('ev-failed', `run failed: ${e.error}`);
        stream = undefined;
        break;
      case 'message.accepted':
        add('muted', `message accepted (${e.kind}, thread ${e.thread})`);
        break;
      case 'reply':
        break; // its text was streamed above
      default:
        add('muted', type);
    }
  });
}

document.addEventListener('DOMContentLoaded', () => {
  confirmations();
  liveValidation();
  chat();
  live();
});
