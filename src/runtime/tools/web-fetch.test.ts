// web_fetch against a fake gateway: plain http goes as an absolute-form proxy request, https as CONNECT, and a
// 403 answer to CONNECT is reported as an egress-policy block.
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { runTool } from './index.ts';
import type { ToolContext } from './types.ts';

let gateway: Server;
let ctx: ToolContext;
const seen: string[] = [];

beforeEach(async () => {
  seen.length = 0;
  gateway = createServer((req, res) => {
    seen.push(`${req.method} ${req.url} host=${req.headers.host}`);
    res.writeHead(req.url === 'http://denied.example/' ? 403 : 200, { 'content-type': 'text/plain' });
    res.end(req.url === 'http://denied.example/' ? 'host not allowed' : 'proxied page');
  });
  gateway.on('connect', (req, socket) => {
    seen.push(`CONNECT ${req.url}`);
    socket.end(
      'HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 16\r\n\r\nhost not allowed',
    );
  });
  await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
  const address = gateway.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  ctx = { workspace: '/', env: {}, bridgePort: address.port };
});
afterEach(() => void gateway.close());

const fetchUrl = (url: string) =>
  runTool(['web_fetch'], 'web_fetch', { url }, ctx, new AbortController().signal);

it('sends plain http to the gateway in absolute form', async () => {
  const result = await fetchUrl('http://example.com/page?q=1');
  expect(result).toEqual({ output: 'HTTP 200 (text/plain)\n\nproxied page', isError: false });
  expect(seen).toEqual(['GET http://example.com/page?q=1 host=example.com']);
});

it('reports a plain-http 403 as a possible policy block', async () => {
  const result = await fetchUrl('http://denied.example/');
  expect(result.isError).toBe(true);
  expect(result.output).toContain('blocked by egress policy (or refused by the site)');
  expect(result.output).toContain('host not allowed');
});

it('uses CONNECT for https and reports a 403 as an egress-policy block', async () => {
  const result = await fetchUrl('https://secret.example/x');
  expect(seen).toEqual(['CONNECT secret.example:443']);
  expect(result).toEqual({ output: 'blocked by egress policy: host not allowed', isError: true });
});

it('refuses other schemes', async () => {
  const result = await fetchUrl('file:///etc/passwd');
  expect(result.isError && result.output).toContain('only http and https');
});
