// Headers of forwarded (non-model) egress: hop-by-hop headers and proxy credentials stay on their own hop,
// and Host names the destination the policy checked, never whatever the client put there.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { hopByHop } from './headers.ts';

function without(headers: IncomingHttpHeaders, extra: readonly string[]): OutgoingHttpHeaders {
  const drop = hopByHop(headers);
  for (const name of extra) drop.add(name);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !drop.has(name)) out[name] = value;
  }
  return out;
}

/** Client → destination: `host` is set from the checked target's authority. */
export function forwardRequestHeaders(incoming: IncomingHttpHeaders, host: string): OutgoingHttpHeaders {
  return { ...without(incoming, ['host', 'expect']), host };
}

/** Destination → client. */
export function forwardResponseHeaders(upstream: IncomingHttpHeaders): OutgoingHttpHeaders {
  return without(upstream, []);
}
