// Keep-alive connections for forwarded plain HTTP, one pool per sandbox endpoint: a socket is reused only for
// the same pinned address, port and family (the agent's key), so a request still goes to the address checked.
import http from 'node:http';

/** Idle upstream sockets kept per destination; the rest are closed once their request ends. */
export const POOL_MAX_FREE_SOCKETS = 16;
/** Idle time before a pooled socket is closed; under Node's default server keep-alive of 5 s, to avoid a reset. */
export const POOL_IDLE_TIMEOUT_MS = 4_000;

export function createUpstreamPool(): http.Agent {
  return new http.Agent({
    keepAlive: true,
    maxFreeSockets: POOL_MAX_FREE_SOCKETS,
    timeout: POOL_IDLE_TIMEOUT_MS,
  });
}
