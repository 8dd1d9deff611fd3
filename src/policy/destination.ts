// Resolving an allowed destination to the one address the gateway will connect to, refusing it when any
// answer is loopback, private, link-local, metadata or the host's own (so DNS rebinding gains nothing).
import dns from 'node:dns/promises';
import os from 'node:os';
import type { EgressDecision } from './egress.ts';
import type { IpAddress } from './ip.ts';
import { formatIp, parseIp } from './ip.ts';
import { blockedReason } from './ssrf.ts';

export interface ResolvedAddress {
  address: string;
  family: number;
}
export type Resolver = (host: string) => Promise<ResolvedAddress[]>;

/** Every address the system resolver returns (getaddrinfo: /etc/hosts, then DNS). */
export const systemResolver: Resolver = (host) => dns.lookup(host, { all: true, verbatim: true });

/** The host's own addresses, read when asked: interfaces come and go. */
export function hostAddresses(): IpAddress[] {
  return Object.values(os.networkInterfaces())
    .flatMap((list) => list ?? [])
    .map((i) => parseIp(i.address.split('%')[0] ?? ''))
    .filter((ip): ip is IpAddress => ip !== undefined);
}

export type Destination = { ok: true; address: string; family: 4 | 6 } | { ok: false; reason: string };

export interface DestinationDeps {
  resolve: Resolver;
  localAddresses: () => readonly IpAddress[];
}

/** Text for net.connect: IPv4 dotted, IPv6 without brackets. */
function connectText(ip: IpAddress): string {
  return formatIp(ip);
}

/**
 * The address to connect to for an allowed request. An IP literal is not resolved; it may be private only
 * when an explicitly listed IP rule allowed it. A name is resolved once, and every answer must be public.
 */
export async function checkDestination(
  host: string,
  decision: Extract<EgressDecision, { allow: true }>,
  deps: DestinationDeps,
): Promise<Destination> {
  const literal = parseIp(host);
  if (literal) {
    const why = decision.literal ? undefined : blockedReason(literal, deps.localAddresses());
    if (why) return { ok: false, reason: `${host} is a ${why}` };
    return { ok: true, address: connectText(literal), family: literal.family };
  }
  let answers: ResolvedAddress[];
  try {
    answers = await deps.resolve(host);
  } catch (err) {
    const code = err instanceof Error && 'code' in err ? String(err.code) : 'error';
    return { ok: false, reason: `cannot resolve ${host} (${code})` };
  }
  const ips = answers.map((a) => parseIp(a.address));
  const first = ips[0];
  if (first === undefined) return { ok: false, reason: `${host} resolved to no address` };
  const local = deps.localAddresses();
  for (const [i, ip] of ips.entries()) {
    if (!ip) return { ok: false, reason: `${host} resolved to an unreadable address` };
    const why = blockedReason(ip, local);
    if (why) return { ok: false, reason: `${host} resolves to ${answers[i]?.address ?? ''}, a ${why}` };
  }
  return { ok: true, address: connectText(first), family: first.family };
}
