// A dry run of one URL through the gateway's own decision and SSRF guard, for `corral egress check`:
// http URLs are judged as the proxied request, https URLs as the CONNECT a client would send.
import type { DestinationDeps } from './destination.ts';
import { checkDestination } from './destination.ts';
import type { EgressPolicy, EgressRequest } from './egress.ts';
import { decideEgress } from './egress.ts';

export type CheckResult =
  | { allow: true; request: EgressRequest; rule: string; address: string }
  | { allow: false; request?: EgressRequest; reason: string };

const PORTS: Record<string, number> = { 'http:': 80, 'https:': 443 };

export function requestForUrl(text: string, method = 'GET'): EgressRequest | string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `'${text}' is not a URL; write it as http://host[:port]/path or https://host[:port]/path`;
  }
  const port = url.port === '' ? PORTS[url.protocol] : Number(url.port);
  if (port === undefined) return `only http and https URLs go through the gateway, not ${url.protocol}`;
  return url.protocol === 'https:'
    ? { host: url.hostname, port, method: 'CONNECT', path: '' }
    : { host: url.hostname, port, method: method.toUpperCase(), path: url.pathname };
}

export async function checkEgressUrl(
  policy: EgressPolicy,
  url: string,
  deps: DestinationDeps,
  method = 'GET',
): Promise<CheckResult> {
  const request = requestForUrl(url, method);
  if (typeof request === 'string') return { allow: false, reason: request };
  const decision = decideEgress(policy, request);
  if (!decision.allow) return { allow: false, request, reason: decision.reason };
  const dest = await checkDestination(request.host, decision, deps);
  if (!dest.ok) return { allow: false, request, reason: `${dest.reason} (allowed by ${decision.rule})` };
  return { allow: true, request, rule: decision.rule, address: dest.address };
}
