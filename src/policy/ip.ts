// IP address parsing for egress decisions: every spelling an HTTP client accepts (decimal, octal, hex and
// shortened IPv4, bracketed IPv6, IPv4 embedded in IPv6) normalised to bytes before anything is checked.
import net from 'node:net';

export interface IpAddress {
  family: 4 | 6;
  /** 4 or 16 bytes, network order. */
  bytes: number[];
}

const MAX_PART = [0xffffffff, 0xffffff, 0xffff, 0xff];

function ipv4Part(text: string): number | undefined {
  if (/^0[xX][0-9a-fA-F]*$/.test(text)) return text.length === 2 ? 0 : parseInt(text.slice(2), 16);
  if (/^0[0-7]+$/.test(text)) return parseInt(text.slice(1), 8);
  if (/^(0|[1-9][0-9]*)$/.test(text)) return Number(text);
  return undefined;
}

/**
 * IPv4 the way WHATWG URL and inet_aton read it: one to four parts, each decimal, 0-octal or 0x-hex, the
 * last part filling the remaining bytes (`2130706433`, `0177.0.0.1` and `0x7f.1` are all 127.0.0.1).
 */
export function parseIPv4(text: string): number[] | undefined {
  const parts = text.endsWith('.') ? text.slice(0, -1).split('.') : text.split('.');
  if (parts.length < 1 || parts.length > 4) return undefined;
  const values = parts.map(ipv4Part);
  const last = values.length - 1;
  let n = 0;
  for (const [i, v] of values.entries()) {
    if (v === undefined || !Number.isSafeInteger(v)) return undefined;
    if (i < last && v > 0xff) return undefined;
    if (i === last && v > (MAX_PART[last] ?? 0)) return undefined;
    n = i < last ? n + v * 2 ** (8 * (3 - i)) : n + v;
  }
  return [
    Math.floor(n / 2 ** 24) % 256,
    Math.floor(n / 2 ** 16) % 256,
    Math.floor(n / 2 ** 8) % 256,
    n % 256,
  ];
}

/** Expands any valid IPv6 text (`::`, an IPv4 tail) to 16 bytes; a zone (`%eth0`) is refused. */
export function parseIPv6(text: string): number[] | undefined {
  if (!net.isIPv6(text) || text.includes('%')) return undefined;
  let groups = text;
  const tail: number[] = [];
  const v4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4?.[1] !== undefined && v4[2] !== undefined) {
    const bytes = v4[2].split('.').map(Number);
    groups = v4[1].endsWith('::') ? v4[1] : v4[1].slice(0, -1);
    tail.push(...bytes);
  }
  const want = 8 - tail.length / 2;
  const [head = '', rest] = groups.split('::');
  const toWords = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const left = toWords(head);
  const right = rest === undefined ? [] : toWords(rest);
  const fill = rest === undefined ? 0 : want - left.length - right.length;
  const words = [...left, ...Array<number>(fill).fill(0), ...right];
  if (words.length !== want) return undefined;
  return [...words.flatMap((w) => [w >> 8, w & 0xff]), ...tail];
}

/** Any IP spelling, with or without [brackets]; undefined for a name. */
export function parseIp(text: string): IpAddress | undefined {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (bare.includes(':')) {
    const bytes = parseIPv6(bare);
    return bytes && { family: 6, bytes };
  }
  const bytes = parseIPv4(bare);
  return bytes && { family: 4, bytes };
}

/** True when `text` reads as an IPv4 address in canonical dotted-decimal form. */
export function isCanonicalIPv4(text: string): boolean {
  return net.isIPv4(text);
}

/** Canonical text: dotted decimal, or eight lower-case hex groups without compression (for comparison). */
export function formatIp(ip: IpAddress): string {
  if (ip.family === 4) return ip.bytes.join('.');
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2)
    words.push((((ip.bytes[i] ?? 0) << 8) | (ip.bytes[i + 1] ?? 0)).toString(16));
  return words.join(':');
}

/** Whether `ip` lies in prefix/len (same family). */
export function inPrefix(ip: IpAddress, prefix: IpAddress, len: number): boolean {
  if (ip.family !== prefix.family) return false;
  for (let bit = 0; bit < len; bit += 8) {
    const mask = len - bit >= 8 ? 0xff : (0xff << (8 - (len - bit))) & 0xff;
    if (((ip.bytes[bit / 8] ?? 0) & mask) !== ((prefix.bytes[bit / 8] ?? 0) & mask)) return false;
  }
  return true;
}
