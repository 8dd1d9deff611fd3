// HTTP to Docker Engine over its Unix socket with node:http: plain requests, long-lived streams, hijacked upgrades.
import http from 'node:http';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { CorralError } from '../../util/errors.ts';

/** Docker 20.10 speaks 1.41; newer engines still accept it. Pinned so a newer engine never changes a field on us. */
export const DOCKER_API_VERSION = '1.41';
export const DOCKER_DEFAULT_SOCKET = '/var/run/docker.sock';
const API_TIMEOUT_MS = 30_000;

/** The socket named by DOCKER_HOST (unix:// only: a TCP engine would be reachable by anyone on that network). */
export function dockerSocketPath(env: Record<string, string | undefined> = process.env): string {
  const host = env['DOCKER_HOST'];
  if (host === undefined || host === '') return DOCKER_DEFAULT_SOCKET;
  if (host.startsWith('unix://') && host.length > 'unix://'.length) return host.slice('unix://'.length);
  throw new CorralError(
    'docker_host_unsupported',
    `DOCKER_HOST=${host} is not a Unix socket; corral talks to Docker only through unix://PATH`,
    'unset DOCKER_HOST or set it to unix:///var/run/docker.sock',
  );
}

/** An error answer of the engine: its HTTP status and its `message`. */
export class DockerApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'DockerApiError';
  }
}

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  query?: Query;
  /** a JSON body */
  json?: unknown;
  /** a streamed body (e.g. a tar for an image import) and its content type */
  body?: { stream: Readable; contentType: string };
  /** undefined: API_TIMEOUT_MS; 0: none (waits, imports) */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface DockerHttp {
  readonly socketPath: string;
  /** Sends a request and reads the whole answer; rejects with DockerApiError on a status >= 400. */
  request(method: string, path: string, opts?: RequestOptions): Promise<{ status: number; body: Buffer }>;
  /** Sends a request and returns the answer as a stream (events, import progress). */
  stream(method: string, path: string, opts?: RequestOptions): Promise<http.IncomingMessage>;
  /** Upgrades the connection to a raw duplex stream (attach, exec start). */
  hijack(path: string, opts?: RequestOptions): Promise<Socket>;
}

function url(path: string, query: Query | undefined): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) params.set(k, String(v));
  const qs = params.toString();
  return `/v${DOCKER_API_VERSION}${path}${qs === '' ? '' : `?${qs}`}`;
}

function unreachable(socketPath: string, err: Error): CorralError {
  return new CorralError(
    'docker_unreachable',
    `cannot reach the Docker daemon at ${socketPath}: ${err.message}`,
    'start it: sudo scripts/start-dockerd.sh (dockerd --userns-remap=default), or set DOCKER_HOST=unix://PATH',
    { cause: err },
  );
}

function readAll(res: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.once('end', () => resolve(Buffer.concat(chunks)));
    res.once('error', reject);
  });
}

function apiError(status: number, body: Buffer): DockerApiError {
  const text = body.toString('utf8');
  let message = text.trim();
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && 'message' in parsed)
      message = String(parsed.message);
  } catch {
    // not JSON: keep the text
  }
  return new DockerApiError(status, message === '' ? `HTTP ${status}` : message);
}

export function createDockerHttp(socketPath: string = dockerSocketPath()): DockerHttp {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });

  function send(
    method: string,
    path: string,
    opts: RequestOptions,
    extra: { upgrade: boolean },
  ): Promise<{ res: http.IncomingMessage; socket?: Socket; head?: Buffer }> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = {};
      if (opts.json !== undefined) headers['content-type'] = 'application/json';
      if (opts.body !== undefined) headers['content-type'] = opts.body.contentType;
      if (extra.upgrade) Object.assign(headers, { connection: 'Upgrade', upgrade: 'tcp' });
      const timeoutMs = opts.timeoutMs ?? API_TIMEOUT_MS;
      const req = http.request({
        socketPath,
        method,
        path: url(path, opts.query),
        headers,
        // a hijacked connection leaves HTTP behind: never return it to the pool; a request without a timeout
        // (an event stream, a container wait, an import) holds its connection for as long as it runs: from the
        // pool, 32 sessions' streams and waits would starve every other request (the 33rd session never started)
        agent: extra.upgrade || timeoutMs === 0 ? false : agent,
        ...(opts.signal === undefined ? {} : { signal: opts.signal }),
      });
      if (timeoutMs > 0) {
        req.setTimeout(timeoutMs, () =>
          req.destroy(new Error(`no answer from Docker to ${method} ${path} within ${timeoutMs} ms`)),
        );
      }
      req.once('error', (err: NodeJS.ErrnoException) => {
        const code = err.code ?? '';
        reject(
          ['ENOENT', 'ECONNREFUSED', 'EACCES', 'EPERM'].includes(code) ? unreachable(socketPath, err) : err,
        );
      });
      req.once('upgrade', (res, socket, head) => {
        req.setTimeout(0);
        resolve({ res, socket, head });
      });
      req.once('response', (res) => {
        req.setTimeout(0);
        resolve({ res });
      });
      if (opts.body !== undefined) {
        opts.body.stream.once('error', (err) => req.destroy(err));
        opts.body.stream.pipe(req);
      } else {
        req.end(opts.json === undefined ? undefined : JSON.stringify(opts.json));
      }
    });
  }

  return {
    socketPath,
    async request(method, path, opts = {}) {
      const { res } = await send(method, path, opts, { upgrade: false });
      const body = await readAll(res);
      const status = res.statusCode ?? 0;
      if (status >= 400) throw apiError(status, body);
      return { status, body };
    },
    async stream(method, path, opts = {}) {
      const { res } = await send(method, path, { timeoutMs: 0, ...opts }, { upgrade: false });
      const status = res.statusCode ?? 0;
      if (status >= 400) throw apiError(status, await readAll(res));
      return res;
    },
    async hijack(path, opts = {}) {
      const { res, socket, head } = await send('POST', path, opts, { upgrade: true });
      if (socket === undefined) {
        const body = await readAll(res);
        throw apiError(res.statusCode ?? 0, body);
      }
      if (head !== undefined && head.length > 0) socket.unshift(head);
      return socket;
    },
  };
}
