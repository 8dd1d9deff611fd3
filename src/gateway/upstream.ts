// The connection to a model provider: opening it with timeouts, decoding its body, and naming its failures.
import http from 'node:http';
import https from 'node:https';
import type { ClientRequest, OutgoingHttpHeaders } from 'node:http';
import { PassThrough } from 'node:stream';
import type { Transform } from 'node:stream';
import zlib from 'node:zlib';

/** Time to open the TCP connection to the provider. */
export const UPSTREAM_CONNECT_TIMEOUT_MS = 10_000;
/** Silence allowed on the upstream socket; a non-streamed call may think this long (the SDKs' own default). */
export const UPSTREAM_IDLE_TIMEOUT_MS = 10 * 60_000;

const CONNECT_TIMEOUT = 'corral_connect_timeout';
const IDLE_TIMEOUT = 'corral_idle_timeout';
const timeoutError = (code: string): Error => Object.assign(new Error(code), { code });

/** The provider URL for a route path: the base URL's own path (e.g. OpenAI's /v1) comes first. */
export function upstreamUrl(baseUrl: string, rest: string, search: string): URL | undefined {
  try {
    const base = new URL(baseUrl);
    if (base.protocol !== 'http:' && base.protocol !== 'https:') return undefined;
    return new URL(base.pathname.replace(/\/+$/, '') + rest + search, base);
  } catch {
    return undefined;
  }
}

/** A POST to the provider, destroyed with a coded error when connecting or waiting for bytes takes too long. */
export function openUpstream(url: URL, headers: OutgoingHttpHeaders): ClientRequest {
  const client = url.protocol === 'https:' ? https : http;
  const upReq = client.request(url, { method: 'POST', headers });
  const connectTimer = setTimeout(
    () => upReq.destroy(timeoutError(CONNECT_TIMEOUT)),
    UPSTREAM_CONNECT_TIMEOUT_MS,
  );
  upReq.once('socket', (socket) => {
    // A reused keep-alive socket is already connected.
    if (!socket.connecting) clearTimeout(connectTimer);
    else socket.once('connect', () => clearTimeout(connectTimer));
  });
  upReq.once('close', () => clearTimeout(connectTimer));
  upReq.setTimeout(UPSTREAM_IDLE_TIMEOUT_MS, () => upReq.destroy(timeoutError(IDLE_TIMEOUT)));
  return upReq;
}

/** Decodes a body the provider compressed although asked for identity; undefined for an unknown coding. */
export function bodyDecoder(encoding: string | undefined): Transform | undefined {
  switch ((encoding ?? '').trim().toLowerCase()) {
    case '':
    case 'identity':
      return new PassThrough();
    case 'gzip':
    case 'x-gzip':
      return zlib.createGunzip();
    case 'deflate':
      return zlib.createInflate();
    case 'br':
      return zlib.createBrotliDecompress();
    default:
      return undefined;
  }
}

/** Failures where no answer came from the provider at all: the runtime reports these as 'unreachable'. */
export function isUnreachable(err: unknown): boolean {
  const code = err instanceof Error && 'code' in err ? String(err.code) : '';
  return ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', CONNECT_TIMEOUT].includes(
    code,
  );
}

/** A message for the sandbox that says what failed and where, from the error's code only. */
export function upstreamErrorMessage(err: unknown, baseUrl: string): string {
  const code = err instanceof Error && 'code' in err ? String(err.code) : '';
  switch (code) {
    case 'ECONNREFUSED':
      return `model provider at ${baseUrl} refused the connection; is it running?`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `model provider host of ${baseUrl} could not be resolved (DNS)`;
    case CONNECT_TIMEOUT:
      return `model provider at ${baseUrl} did not accept a connection within ${UPSTREAM_CONNECT_TIMEOUT_MS} ms`;
    case IDLE_TIMEOUT:
      return `model provider at ${baseUrl} sent nothing for ${UPSTREAM_IDLE_TIMEOUT_MS} ms`;
    default:
      return `model provider at ${baseUrl} failed: ${code || 'connection error'}`;
  }
}
