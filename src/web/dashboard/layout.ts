// The page shell every dashboard page shares: head (our CSS and script only), navigation, the logout button.
import type { Principal } from '../../policy/actions.ts';
import type { Html } from './html.ts';
import { h } from './html.ts';
import { CSRF_FIELD } from './guard.ts';

export const UI = '/ui';

export interface Viewer {
  principal: Principal;
  csrf: string;
  /** pending approvals, shown on the navigation */
  pending: number;
}

const NAV: [string, string][] = [
  ['fleet', 'Fleet'],
  ['approvals', 'Approvals'],
  ['audit', 'Audit'],
  ['usage', 'Usage'],
  ['egress', 'Egress'],
];

export const canChange = (p: Principal): boolean => p.kind === 'operator' && p.role === 'admin';

/** A hidden field with the session's CSRF token, for every form that changes something. */
export const csrfField = (v: Viewer): Html =>
  h`<input type="hidden" name="${CSRF_FIELD}" value="${v.csrf}" />`;

export function page(opts: { title: string; active: string; viewer?: Viewer; body: Html }): Html {
  const v = opts.viewer;
  const who =
    v === undefined
      ? ''
      : h`<span class="who"
            >${v.principal.kind === 'operator' ? `${v.principal.name} (${v.principal.role})` : ''}</span
          >
          <form method="post" action="${UI}/logout" class="inline">
            ${csrfField(v)}<button class="link">Log out</button>
          </form>`;
  const nav =
    v === undefined
      ? ''
      : h`<nav>
          ${NAV.map(
            ([key, label]) =>
              h`<a href="${UI}/${key}" class="${key === opts.active ? 'active' : ''}"
                >${label}${
                  key === 'approvals' && v.pending > 0 ? h` <span class="badge">${v.pending}</span>` : ''
                }</a
              >`,
          )}
        </nav>`;
  return h`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        ${v === undefined ? '' : h`<meta name="csrf-token" content="${v.csrf}" />`}
        <title>${opts.title} · corral</title>
        <link rel="stylesheet" href="${UI}/static/app.css" />
        <script src="${UI}/static/app.js" defer></script>
      </head>
      <body>
        <header>
          <a class="brand" href="${UI}/fleet">corral</a>${nav}
          <div class="user">${who}</div>
        </header>
        <main>
          <h1>${opts.title}</h1>
          ${opts.body}
        </main>
      </body>
    </html> `;
}

/** A one-line problem box: what went wrong and what to do. */
export const problem = (message: string, hint?: string): Html =>
  h`<div class="problem" role="alert">
    <strong>${message}</strong>${hint === undefined ? '' : h`<br />${hint}`}
  </div>`;

export const notice = (message: string): Html => h`<div class="notice" role="status">${message}</div>`;
