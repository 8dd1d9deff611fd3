// Egress decisions for ordinary proxy traffic (absolute-form requests and CONNECT): one function decides.
// Default deny: allowlists arrive in a later change, and they go into decideEgress and nowhere else.
export interface EgressRequest {
  host: string;
  port: number;
  method: string;
  /** Path without the query string; '' for CONNECT, whose path the gateway cannot see. */
  path: string;
}

export type EgressDecision = { allow: true } | { allow: false; reason: string };

/** The single place that decides whether an agent may reach a destination. */
export function decideEgress(_agent: string, _req: EgressRequest): EgressDecision {
  return { allow: false, reason: 'default deny; no allow rule' };
}

export function denyText(host: string, reason: string): string {
  return `corral gateway: egress to ${host} denied (${reason})\n`;
}

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443 };

/**
 * The destination of a proxy request, or undefined when the target is malformed. CONNECT carries
 * `host:port` (authority-form); other methods carry an absolute URL. WHATWG URL parsing normalises the
 * host, so it is safe to echo in a status line or body afterwards.
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
