// Egress allow patterns as operators write them (`host`, `*.host`, `host:port`, `10.0.0.5:8080`, `[fd00::1]:80`,
// `GET host/path-glob`), parsed into rules or refused with an error that says what to write instead.
import { formatIp, isCanonicalIPv4, parseIp } from './ip.ts';
import { blockedReason } from './ssrf.ts';

export type HostMatch =
  { kind: 'name'; name: string } | { kind: 'suffix'; suffix: string } | { kind: 'ip'; ip: string };

export interface EgressRule {
  /** The pattern as written; decisions and audit entries name it. */
  source: string;
  host: HostMatch;
  /** Ports the rule covers: the one written, or 80 and 443. */
  ports: readonly number[];
  /** Upper-case HTTP method, when the rule is HTTP-level. */
  method?: string;
  /** Path glob (`*` within a segment, `**` across segments), when the rule is HTTP-level. */
  path?: string;
}

export const DEFAULT_RULE_PORTS: readonly number[] = [80, 443];

/** Suffixes under which anyone can register names: a wildcard over one of them covers strangers' hosts. */
const PUBLIC_SUFFIXES = new Set([
  'co.uk', 'org.uk', 'ac.uk', 'gov.uk', 'com.au', 'net.au', 'org.au', 'co.jp', 'co.nz', 'com.br', 'com.cn',
  'co.in', 'co.za', 'com.mx', 'co.kr', 'com.tw', 'com.sg', 'github.io', 'gitlab.io', 'herokuapp.com',
  'appspot.com', 'cloudfront.net', 'amazonaws.com', 'azurewebsites.net', 'blogspot.com', 'vercel.app',
  'netlify.app', 'pages.dev', 'workers.dev', 'web.app', 'firebaseapp.com', 'ngrok.io', 'ngrok-free.app',
]); // prettier-ignore

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const METHOD = /^[A-Z]{3,10}$/;

export class PatternError extends Error {}

const fail = (message: string): never => {
  throw new PatternError(message);
};

function parsePort(text: string): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : 0;
  if (port < 1 || port > 65535) fail(`port must be a number from 1 to 65535, got '${text}'`);
  return port;
}

function parseName(text: string): string {
  const name = text.toLowerCase().replace(/\.$/, '');
  if (name.length > 253 || !name.split('.').every((l) => LABEL.test(l)))
    fail(`'${text}' is not a host name (letters, digits, '-' and '.')`);
  // A numeric last label makes URL parsers read the whole name as an IPv4 address.
  if (/^(\d+|0x[0-9a-f]*)$/.test(name.split('.').pop() ?? ''))
    fail(`'${text}' is not a valid IPv4 address; write it as four decimal numbers, e.g. 10.0.0.5`);
  return name;
}

function parseIpHost(text: string): HostMatch {
  const ip = parseIp(text);
  if (!ip) return fail(`'${text}' is not a valid IP address`);
  if (ip.family === 4 && !isCanonicalIPv4(text))
    fail(`write the address '${text}' as four decimal numbers: ${formatIp(ip)}`);
  const why = blockedReason(ip);
  if (why && /metadata|unspecified|multicast|reserved|broadcast|discard/.test(why))
    fail(`'${text}' is a ${why}; no rule can allow it`);
  return { kind: 'ip', ip: formatIp(ip) };
}

function parseHost(text: string): HostMatch {
  if (text.startsWith('[') || /^[\d.]+$/.test(text) || text.includes(':')) return parseIpHost(text);
  if (text.startsWith('*.')) {
    const suffix = parseName(text.slice(2));
    if (!suffix.includes('.') || PUBLIC_SUFFIXES.has(suffix))
      fail(`'${text}' would match every host under the public suffix '${suffix}'; name a domain you trust`);
    return { kind: 'suffix', suffix };
  }
  if (text.includes('*')) fail(`'${text}': a wildcard may only be a leading '*.', as in *.example.com`);
  return { kind: 'name', name: parseName(text) };
}

/** host, host:port, [v6], [v6]:port, or a bare IPv6 address. */
function splitHostPort(text: string): { host: string; port?: number } {
  const bracketed = /^(\[[^\]]*\])(?::(.*))?$/.exec(text);
  if (bracketed?.[1] !== undefined)
    return bracketed[2] === undefined
      ? { host: bracketed[1] }
      : { host: bracketed[1], port: parsePort(bracketed[2]) };
  if ((text.match(/:/g) ?? []).length > 1) return { host: text };
  const i = text.indexOf(':');
  return i < 0 ? { host: text } : { host: text.slice(0, i), port: parsePort(text.slice(i + 1)) };
}

/** Parses one allow pattern; throws PatternError with a message meant for the operator. */
export function parseEgressPattern(source: string): EgressRule {
  if (source.trim() === '') fail('an egress pattern cannot be empty');
  if (source !== source.trim() || /\s{2,}|[\t\n\r]/.test(source)) fail(`'${source}': stray whitespace`);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source.split(' ').pop() ?? ''))
    fail(`'${source}': write the host without a scheme, e.g. example.com or example.com:8443`);
  const words = source.split(' ');
  if (words.length > 2) fail(`'${source}': expected [METHOD] HOST[:PORT][/PATH]`);
  const method = words.length === 2 ? words[0] : undefined;
  if (method !== undefined && !METHOD.test(method))
    fail(`'${method}' is not an HTTP method such as GET or POST`);
  const target = words[words.length - 1] ?? '';
  if (target === '*' || target.startsWith('*:') || target.startsWith('*/'))
    fail(`'${source}' would allow every host; name the hosts, or use --egress web`);
  const slash = target.startsWith('[') ? target.indexOf('/', target.indexOf(']')) : target.indexOf('/');
  const authority = slash < 0 ? target : target.slice(0, slash);
  const path = slash < 0 ? undefined : target.slice(slash);
  if (path !== undefined && !/^\/[\x21-\x7e]*$/.test(path)) fail(`'${path}' is not a valid path glob`);
  const { host, port } = splitHostPort(authority);
  if (host === '') fail(`'${source}': the host is missing`);
  return {
    source,
    host: parseHost(host),
    ports: port === undefined ? DEFAULT_RULE_PORTS : [port],
    ...(method === undefined ? {} : { method }),
    ...(path === undefined ? {} : { path }),
  };
}

/** The problem with a pattern, or undefined when it parses: for zod refinements and CLI checks. */
export function patternProblem(source: string): string | undefined {
  try {
    parseEgressPattern(source);
    return undefined;
  } catch (err) {
    if (err instanceof PatternError) return err.message;
    throw err;
  }
}
