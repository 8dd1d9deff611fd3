// The escaping helper: every interpolated value is escaped, only nested `h` markup passes through.
import { describe, expect, it } from 'vitest';
import { escapeHtml, h } from './html.ts';

describe('h', () => {
  it('escapes strings, numbers, objects and arrays of strings, and keeps nested markup', () => {
    const evil = `<img src=x onerror="alert('1')">&\``;
    const out = h`<p title="${evil}">${evil}${['<b>', h`<i>${'<u>'}</i>`]}${{ a: '<' }}${7}${null}${false}</p>`;
    expect(out.toString()).toBe(
      '<p title="&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;&#96;">' +
        '&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;&#96;&lt;b&gt;<i>&lt;u&gt;</i>' +
        '{&quot;a&quot;:&quot;&lt;&quot;}7</p>',
    );
  });
  it('leaves ordinary text alone', () => {
    expect(escapeHtml('agent alpha: 3 min ago')).toBe('agent alpha: 3 min ago');
  });
});
