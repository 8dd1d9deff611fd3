// Egress from a sandbox in gateway terms: the destination a proxy request names, what the gateway needs to
// judge it (the agent's policy, read per request, a resolver, the host's own addresses), and the refusal text.
import type { EgressPolicy, EgressRequest } from '../policy/egress.ts';
import type { Resolver } from '../policy/destination.ts';
import type { IpAddress } from '../policy/ip.ts';

export type { EgressRequest };

/** Time to open a TCP connection to an allowed destination. */
export const EGRESS_CONNECT_TIMEOUT_MS = 10_000;
/** Silence allowed on a forwarded request or a tunnel before both sides are closed. */
export const EGRESS_IDLE_TIMEOUT_MS = 5 * 60_000;
/** Time allowed for resolving a destination's name. */
export const EGRESS_RESOLVE_TIMEOUT_MS = 5_000;

/** How long a request an operator rule holds for approval waits before it is refused (the approval stays open). */
export const EGRESS_APPROVAL_HOLD_MS = 30_000;

export interface EgressTimeouts {
  connectMs: number;
  idleMs: number;
  resolveMs: number;
  approvalHoldMs: number;
}

export interface EgressDeps {
  /** The agent's policy, read at request time so `corral agent set` applies to the next request. */
  policy: (agent: string) => EgressPolicy;
  /** Default: the system resolver (every address getaddrinfo returns). */
  resolve?: Resolver;
  /** Default: os.networkInterfaces(), read per request. */
  localAddresses?: () => readonly IpAddress[];
  timeouts?: Partial<EgressTimeouts>;
}

export function denyText(authority: string, reason: string): string {
  return `corral gateway: egress to ${authority} denied: ${reason}\n`;
}

/** host:port with IPv6 hosts in brackets, as it appears in audit subjects and refusals. */
export function authority(host: string, port: number): string {
  return `${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`;
}

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443 };

/**
 * The destination of a proxy request, or undefined when the target is malformed. CONNECT carries
 * `host:port` (authority-form); other methods carry an absolute URL. WHATWG URL parsing normalises the
 * host (IPv4 spellings included), so it is safe to echo in a status line or body afterwards.
 */
export function proxyTarget(method: string, target: string): EgressRequest | undefined {
  try {
    if (method === 'CONNECT') {
      // The port is matched here, not read from URL: URL hides default ports (example.com:80 has port '').
      const m = /^(\[[0-9a-fA-F:.]+\]|[^:/?#@[\]\s]+):(\d{1,5})$/.exec(target);
      const port = Number(m?.[2]);
      if (!m?.[1] || !(port > 0 && port < 65536)) return undefined;
      return { host: new URL(`http://${m[1]}`).hostname, port, method, path: '' };
    }
    const url = new URL(target);
    const port = url.port === '' ? DEFAULT_PORTS[url.protocol] : Number(url.port);
    if (port === undefined || url.hostname === '') return undefined;
    return { host: url.hostname, port, method, path: url.pathname };
  } catch {
    return undefined;
  }
}
