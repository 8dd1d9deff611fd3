// The web_fetch tool: fetches a URL through the gateway bridge as an HTTP proxy (absolute-form request for http,
// CONNECT then TLS for https), so it obeys the same egress policy as every other program in the sandbox.
import { request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import * as z from '../../protocol/zod-mini.ts';
import { capText } from './output-cap.ts';
import type { Tool, ToolContext, ToolResult } from './types.ts';
import { errorText, fail } from './types.ts';

export const WEB_FETCH_TIMEOUT_MS = 60_000;
export const WEB_FETCH_MAX_BYTES = 2_000_000;
const GATEWAY_HOST = '127.0.0.1';
/** How long to wait for the explanation that comes with a refused CONNECT, and how much of it to keep. */
const CONNECT_REFUSAL_WAIT_MS = 2_000;
const CONNECT_REFUSAL_MAX_CHARS = 2_000;

const Input = z.object({ url: z.url().check(z.describe('http or https URL to GET')) });

async function readCapped(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    chunks.push(buf);
    size += buf.length;
    if (size > WEB_FETCH_MAX_BYTES) {
      res.destroy(); // stop downloading: the rest would be cut anyway
      break;
    }
  }
  return capText(Buffer.concat(chunks).toString('utf8'));
}

/** The body of a refused CONNECT: Node hands it over as `head` plus raw socket data, not as a response stream. */
function refusalBody(socket: Duplex, head: Buffer): Promise<string> {
  return new Promise((resolve) => {
    let body = head.toString('utf8');
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(body.slice(0, CONNECT_REFUSAL_MAX_CHARS));
    };
    const timer = setTimeout(done, CONNECT_REFUSAL_WAIT_MS);
    socket.on('data', (d: Buffer) => {
      body += d.toString('utf8');
      if (body.length >= CONNECT_REFUSAL_MAX_CHARS) done();
    });
    socket.on('end', done);
    socket.on('error', done);
  });
}

const describe = async (res: IncomingMessage): Promise<ToolResult> => {
  const status = res.statusCode ?? 0;
  const body = await readCapped(res);
  const type = res.headers['content-type'] ?? 'unknown type';
  return { output: `HTTP ${status} (${type})\n\n${body}`, isError: status >= 400 };
};

function fetchHttp(url: URL, ctx: ToolContext, signal: AbortSignal): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: GATEWAY_HOST,
      port: ctx.bridgePort,
      method: 'GET',
      path: url.href,
      headers: { host: url.host },
      signal,
    });
    req.on('response', (res) => void describe(res).then(resolve, reject));
    req.on('error', reject);
    req.end();
  });
}

function fetchHttps(url: URL, ctx: ToolContext, signal: AbortSignal): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const target = `${url.hostname}:${url.port || '443'}`;
    const connect = httpRequest({
      host: GATEWAY_HOST,
      port: ctx.bridgePort,
      method: 'CONNECT',
      path: target,
      headers: { host: target },
      signal,
    });
    connect.on('connect', (res, socket, head) => {
      if (res.statusCode === 403) {
        void refusalBody(socket, head).then((body) =>
          resolve(fail(`blocked by egress policy: ${body.trim() || target}`)),
        );
        return;
      }
      if (res.statusCode !== 200) {
        socket.destroy();
        resolve(fail(`the gateway refused CONNECT ${target}: HTTP ${res.statusCode ?? 0}`));
        return;
      }
      const tls = tlsConnect({ socket, servername: url.hostname });
      const req = httpsRequest(url, { method: 'GET', createConnection: () => tls, signal });
      req.on('response', (r) => void describe(r).then(resolve, reject));
      req.on('error', reject);
      req.end();
    });
    connect.on('error', reject);
    connect.end();
  });
}

export const webFetchTool: Tool<typeof Input> = {
  name: 'web_fetch',
  description:
    'GET a web page or file over http(s) through the egress gateway; returns the status and the (cut) body.',
  input: Input,
  run: async (input, ctx, outer) => {
    const url = new URL(input.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      return fail(`only http and https URLs: ${input.url}`);
    const signal = AbortSignal.any([outer, AbortSignal.timeout(WEB_FETCH_TIMEOUT_MS)]);
    try {
      const result = await (url.protocol === 'https:'
        ? fetchHttps(url, ctx, signal)
        : fetchHttp(url, ctx, signal));
      // A plain-http 403 may come from the gateway or from the site itself; say both rather than guess.
      if (url.protocol === 'http:' && result.output.startsWith('HTTP 403'))
        return fail(`blocked by egress policy (or refused by the site): ${result.output}`);
      return result;
    } catch (err) {
      if (outer.aborted) return fail('cancelled');
      if (signal.aborted) return fail(`timed out after ${WEB_FETCH_TIMEOUT_MS} ms`);
      return fail(`fetch ${input.url} failed: ${errorText(err)}`);
    }
  },
};
