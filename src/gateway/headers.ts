// Header filtering at the gateway boundary: what crosses from a sandbox to a provider, and back.
// Credentials from the sandbox are dropped (the gateway adds the real key); hop-by-hop headers never cross a proxy.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { ProviderKind } from '../protocol/frames.ts';

/** RFC 9110 §7.6.1 connection-specific headers, plus the de-facto `proxy-connection`. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Anything a client could use to present a credential; the sandbox never gets to choose one. */
const CREDENTIAL_HEADERS = new Set([
  'authorization',
  'x-api-key',
  'api-key',
  'x-goog-api-key',
  'proxy-authorization',
  'cookie',
]);

/** Hop-by-hop headers, including those the sender named in its `Connection` header. */
export function hopByHop(headers: IncomingHttpHeaders): Set<string> {
  const names = new Set(HOP_BY_HOP);
  const connection = headers.connection;
  for (const token of (connection ?? '').split(',')) {
    const name = token.trim().toLowerCase();
    if (name) names.add(name);
  }
  return names;
}

/** The header that carries the real key for each wire protocol. */
export function authHeader(kind: ProviderKind, key: string): OutgoingHttpHeaders {
  switch (kind) {
    case 'anthropic':
      return { 'x-api-key': key };
    case 'openai':
      return { authorization: `Bearer ${key}` };
  }
}

/**
 * Headers for the upstream request: the client's headers minus credentials, hop-by-hop headers and `host`
 * (node sets it from the URL), with the real key added. `accept-encoding: identity` keeps the response
 * readable for redaction and metering.
 */
export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  kind: ProviderKind,
  key: string,
): OutgoingHttpHeaders {
  const drop = hopByHop(incoming);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || drop.has(name) || CREDENTIAL_HEADERS.has(name)) continue;
    // `expect: 100-continue` was already answered by the gateway's own server.
    if (name === 'host' || name === 'accept-encoding' || name === 'expect') continue;
    out[name] = value;
  }
  return { ...out, 'accept-encoding': 'identity', ...authHeader(kind, key) };
}

/**
 * Headers for the response to the sandbox: the upstream's minus hop-by-hop headers. `content-length` is
 * dropped because redaction may change the body length (the response goes out chunked instead), and
 * `content-encoding` is dropped because the gateway decodes the body before it passes it on.
 * `redact` is applied to every value so a key echoed in a header does not leak either.
 */
export function downstreamResponseHeaders(
  upstream: IncomingHttpHeaders,
  redact: (value: string) => string,
): OutgoingHttpHeaders {
  const drop = hopByHop(upstream);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(upstream)) {
    if (value === undefined || drop.has(name)) continue;
    if (name === 'content-length' || name === 'content-encoding') continue;
    out[name] = Array.isArray(value) ? value.map(redact) : redact(value);
  }
  return out;
}
