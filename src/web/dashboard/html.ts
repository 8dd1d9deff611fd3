// The dashboard's one escaping helper: `h` is a tagged template that escapes every interpolated value, so a
// page can only contain markup written literally in a template. Nested `h` results pass through unescaped.

/** Markup that is already safe: only `h` makes one. */
export class Html {
  readonly #text: string;
  private constructor(text: string) {
    this.#text = text;
  }
  static trusted(text: string): Html {
    return new Html(text);
  }
  toString(): string {
    return this.#text;
  }
}

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

/** Text made safe for an element's content and for a double- or single-quoted attribute value. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`]/g, (c) => ENTITIES[c] ?? c);
}

function part(value: unknown): string {
  if (value instanceof Html) return value.toString();
  if (value === null || value === undefined || value === false) return '';
  if (Array.isArray(value)) return value.map(part).join('');
  if (typeof value === 'string') return escapeHtml(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return escapeHtml(String(value));
  return escapeHtml(JSON.stringify(value) ?? '');
}

/** `h\`<p>${text}</p>\``: strings, numbers and objects are escaped; Html and arrays of Html are kept. */
export function h(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += part(v) + (strings[i + 1] ?? '');
  });
  return Html.trusted(out);
}

/** A path segment for an href (agent names, thread keys): percent-encoded, then escaped by `h`. */
export const seg = (value: string): string => encodeURIComponent(value);
