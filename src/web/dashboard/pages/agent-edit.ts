// The agent editor: the definition's YAML, validated live (the client script posts it to /ui/agents/validate)
// and again on save, with the schema's errors by line.
import type { Html } from '../html.ts';
import { h, seg } from '../html.ts';
import type { YamlProblem } from '../agent-admin.ts';
import type { Viewer } from '../layout.ts';
import { csrfField, page, problem, UI } from '../layout.ts';

export function problemList(problems: readonly YamlProblem[]): Html {
  return h`<ul class="problems">
    ${problems.map(
      (p) => h`<li>${p.line === null ? '' : h`<span class="line">line ${p.line}</span> `}${p.message}</li>`,
    )}
  </ul>`;
}

export function editPage(opts: {
  viewer: Viewer;
  name?: string;
  text: string;
  error?: string;
  problems?: YamlProblem[];
}): Html {
  const creating = opts.name === undefined;
  const action = creating ? `${UI}/agents/new` : `${UI}/agents/${seg(opts.name ?? '')}/edit`;
  return page({
    title: creating ? 'New agent' : `Edit ${opts.name ?? ''}`,
    active: 'fleet',
    viewer: opts.viewer,
    body: h`${opts.error === undefined ? '' : problem(opts.error)}
      <form method="post" action="${action}" class="editor">
        ${csrfField(opts.viewer)}
        <label for="yaml">agents/${opts.name ?? 'NAME'}.yaml</label>
        <textarea
          id="yaml"
          name="yaml"
          rows="22"
          spellcheck="false"
          data-validate="${UI}/agents/validate"
          data-name="${opts.name ?? ''}"
        >
${opts.text}</textarea>
        <div id="validation" aria-live="polite">
          ${opts.problems === undefined ? '' : problemList(opts.problems)}
        </div>
        <button type="submit">${creating ? 'Create' : 'Save'}</button>
        <a href="${UI}/fleet">Cancel</a>
      </form>`,
  });
}
