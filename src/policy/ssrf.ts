// The SSRF guard: which resolved addresses egress may never reach, whatever the allow rules say, for IPv4,
// IPv6 and IPv4 embedded in IPv6. Pure: the host's own addresses are passed in.
import type { IpAddress } from './ip.ts';
import { formatIp, inPrefix, parseIp } from './ip.ts';

interface Range {
  prefix: IpAddress;
  len: number;
  reason: string;
}

function range(cidr: string, reason: string): Range {
  const [text = '', len = ''] = cidr.split('/');
  const prefix = parseIp(text);
  if (!prefix) throw new Error(`bad built-in range ${cidr}`);
  return { prefix, len: Number(len), reason };
}

const METADATA = 'cloud metadata address';
/** Checked first, so the most specific reason wins. */
const BLOCKED: Range[] = [
  range('169.254.169.254/32', METADATA),
  range('100.100.100.200/32', METADATA),
  range('fd00:ec2::254/128', METADATA),
  range('0.0.0.0/8', 'unspecified address (0.0.0.0/8)'),
  range('127.0.0.0/8', 'loopback address'),
  range('10.0.0.0/8', 'private address (RFC 1918)'),
  range('172.16.0.0/12', 'private address (RFC 1918)'),
  range('192.168.0.0/16', 'private address (RFC 1918)'),
  range('100.64.0.0/10', 'shared address space (CGNAT, RFC 6598)'),
  range('169.254.0.0/16', 'link-local address'),
  range('192.0.0.0/24', 'IETF protocol assignment (192.0.0.0/24)'),
  range('192.0.2.0/24', 'documentation address'),
  range('198.51.100.0/24', 'documentation address'),
  range('203.0.113.0/24', 'documentation address'),
  range('198.18.0.0/15', 'benchmarking address (198.18.0.0/15)'),
  range('224.0.0.0/4', 'multicast address'),
  range('240.0.0.0/4', 'reserved address (240.0.0.0/4, broadcast)'),
  range('::/128', 'unspecified address (::)'),
  range('::1/128', 'loopback address'),
  range('fc00::/7', 'unique local address (ULA, fc00::/7)'),
  range('fe80::/10', 'link-local address'),
  range('fec0::/10', 'site-local address (fec0::/10)'),
  range('ff00::/8', 'multicast address'),
  range('2001:db8::/32', 'documentation address'),
  range('100::/64', 'discard-only address (100::/64)'),
];

/** IPv6 forms that carry an IPv4 address a stack may end up using: mapped, compatible, NAT64, 6to4. */
const EMBEDDING: { prefix: IpAddress; len: number; at: number }[] = [
  { ...range('::ffff:0:0/96', ''), at: 12 },
  { ...range('::/96', ''), at: 12 },
  { ...range('64:ff9b::/96', ''), at: 12 },
  { ...range('64:ff9b:1::/48', ''), at: 12 },
  { ...range('2002::/16', ''), at: 2 },
];

function embeddedIPv4(ip: IpAddress): IpAddress | undefined {
  if (ip.family !== 6) return undefined;
  for (const e of EMBEDDING)
    if (inPrefix(ip, e.prefix, e.len)) return { family: 4, bytes: ip.bytes.slice(e.at, e.at + 4) };
  return undefined;
}

/**
 * Why `ip` may not be reached, or undefined when it is an ordinary public address. `local` lists the host's
 * own addresses (os.networkInterfaces()), which are refused too: a service bound to them is the host's own.
 */
export function blockedReason(ip: IpAddress, local: readonly IpAddress[] = []): string | undefined {
  for (const r of BLOCKED) if (inPrefix(ip, r.prefix, r.len)) return r.reason;
  const inner = embeddedIPv4(ip);
  if (inner) {
    const why = blockedReason(inner, local);
    if (why) return `${why}, embedded in IPv6`;
  }
  const text = formatIp(ip);
  for (const own of local) {
    if (formatIp(own) === text || (inner && formatIp(own) === formatIp(inner)))
      return "one of this host's own addresses";
  }
  return undefined;
}
