// Where a secret may be sent: host patterns (`host`, `*.host`, `host:port`) and an optional header template.
// Parsed here, at the edge; the gateway matches destinations against the parsed form only.
import { z } from 'zod';

export interface HostPattern {
  /** lower-case host name or IP literal, without the `*.` of a wildcard */
  host: string;
  /** `*.host`: any name ending in `.host` (not `host` itself) */
  wildcard: boolean;
  /** undefined: any port */
  port?: number;
}

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** Parses `host`, `*.host` or `host:port`; returns the reason when the pattern is not one of them. */
export function parseHostPattern(raw: string): HostPattern | string {
  const text = raw.trim().toLowerCase();
  if (text === '') return 'empty host pattern';
  if (text.includes('/') || text.includes('@')) return `'${raw}' is not a host (no scheme, path or user)`;
  const m = /^(.*?)(?::(\d{1,5}))?$/.exec(text);
  const hostPart = m?.[1] ?? '';
  const port = m?.[2] === undefined ? undefined : Number(m[2]);
  if (port !== undefined && !(port > 0 && port < 65536)) return `'${raw}': port out of range`;
  const wildcard = hostPart.startsWith('*.');
  const host = wildcard ? hostPart.slice(2) : hostPart;
  const labels = host.split('.');
  if (!labels.every((l) => LABEL.test(l))) return `'${raw}' is not a host name`;
  if (IPV4.test(host) && wildcard) return `'${raw}': a wildcard cannot cover an IP address`;
  // `*.com` would hand a credential to every site under a public suffix.
  if (wildcard && labels.length < 2)
    return `'${raw}' is too broad; name a domain you control, e.g. *.example.com`;
  return port === undefined ? { host, wildcard } : { host, wildcard, port };
}

/** Whether a destination (the host as the gateway normalised it, and its port) matches the pattern. */
export function matchesHost(p: HostPattern, host: string, port: number): boolean {
  if (p.port !== undefined && p.port !== port) return false;
  const h = host.toLowerCase().replace(/\.$/, '');
  return p.wildcard ? h.endsWith(`.${p.host}`) : h === p.host;
}

export const HostPatternText = z
  .string()
  .superRefine((s, ctx) => {
    const p = parseHostPattern(s);
    if (typeof p === 'string') ctx.addIssue({ code: 'custom', message: p });
  })
  .describe('host the secret may be sent to: host, *.host or host:port');

/** Headers a template may not set: they belong to the connection or the proxy, not to the credential. */
const RESERVED_HEADERS = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'upgrade']);

export const HeaderTemplate = z
  .string()
  .regex(/^[A-Za-z0-9-]+: ?[^\r\n]*$/, "write the header as 'Name: value', e.g. 'Authorization: Bearer {}'")
  .refine((t) => t.split('{}').length === 2, 'the header template must contain {} exactly once')
  .refine(
    (t) => !RESERVED_HEADERS.has(t.slice(0, t.indexOf(':')).toLowerCase()),
    'that header cannot carry a credential',
  )
  .describe(
    "header set on requests to the bound hosts; {} stands for the value, e.g. 'Authorization: Bearer {}'",
  );

export const SecretBindingInput = z
  .object({
    hosts: z.array(HostPatternText).min(1).describe('hosts the secret may be sent to'),
    header: HeaderTemplate.nullable().describe('header the gateway sets on those requests, if any'),
  })
  .strict();
export type SecretBindingInput = z.infer<typeof SecretBindingInput>;

/** Splits a template into the header name (lower case) and the value with the secret filled in. */
export function renderHeader(template: string, value: string): [string, string] {
  const i = template.indexOf(':');
  return [
    template.slice(0, i).trim().toLowerCase(),
    template
      .slice(i + 1)
      .trim()
      .replace('{}', () => value),
  ];
}
