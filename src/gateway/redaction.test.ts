// A hostile provider that echoes the key it was sent: the sandbox must only ever see "[redacted]".
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MAX_REQUEST_BODY_BYTES } from './model-route.ts';
import type { Harness } from './test-harness.ts';
import { request, startHarness } from './test-harness.ts';

const KEY = 'sk-ant-api03-echoed-key-abcdefghijklmnop';

/** Answers like a provider, but puts the x-api-key it received into a header and, split in pieces, the body. */
async function echoUpstream(req: IncomingMessage, res: ServerResponse): Promise<void> {
  for await (const _ of req); // read the whole request first, as a real provider does
  const key = String(req.headers['x-api-key']);
  if (req.headers['x-test'] === 'gzip') {
    res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    res.end(gzipSync(JSON.stringify({ leaked: key, url: req.url })));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'x-echo': `key=${key}` });
  const cut = 11;
  res.write(`data: {"url":"${req.url ?? ''}","leaked":"${key.slice(0, cut)}`);
  await sleep(20); // separate TCP segments, so the gateway sees the key split across chunks
  res.write(`${key.slice(cut)}"}\n\n`);
  await sleep(20);
  res.end(`data: {"again":"${key}"}\n\n`);
}

let upstream: http.Server;
let upstreamUrl: string;
let h: Harness;

beforeAll(async () => {
  upstream = http.createServer((req, res) => {
    echoUpstream(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const address = upstream.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  upstreamUrl = `http://127.0.0.1:${address.port}`;
});
afterAll(async () => {
  upstream.closeAllConnections();
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
});
beforeEach(async () => {
  h = await startHarness();
  h.providers.set('echo', { name: 'echo', kind: 'anthropic', baseUrl: upstreamUrl, keySecret: 'ECHO_KEY' });
  h.secrets.set('ECHO_KEY', KEY);
});
afterEach(async () => {
  await h.close();
  expect(JSON.stringify([h.logs, h.audit])).not.toContain(KEY);
});

describe('key echoed by the upstream', () => {
  it('is redacted from streamed body chunks and headers; the query string is kept', async () => {
    const res = await request(h.endpoint.socketPath, {
      method: 'POST',
      path: '/model/echo/v1/messages?beta=true',
      body: '{"model":"m","stream":true}',
    });
    expect(res.status).toBe(200);
    expect(res.headers['x-echo']).toBe('key=[redacted]');
    expect(res.body).toBe(
      'data: {"url":"/v1/messages?beta=true","leaked":"[redacted]"}\n\ndata: {"again":"[redacted]"}\n\n',
    );
  });

  it('is redacted from a gzip body the upstream sent although asked for identity', async () => {
    const res = await request(h.endpoint.socketPath, {
      method: 'POST',
      path: '/model/echo/v1/messages',
      headers: { 'x-test': 'gzip', 'accept-encoding': 'gzip' },
      body: '{"model":"m"}',
    });
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(JSON.parse(res.body)).toEqual({ leaked: '[redacted]', url: '/v1/messages' });
  });
});

describe('request body cap', () => {
  it('answers 413 when a chunked body grows past the cap', async () => {
    const res = await request(h.endpoint.socketPath, {
      method: 'POST',
      path: '/model/echo/v1/messages',
      headers: { 'transfer-encoding': 'chunked' },
      body: Buffer.alloc(MAX_REQUEST_BODY_BYTES + 1024, 0x20),
    });
    expect(res.status).toBe(413);
    expect(h.audit).toMatchObject([{ action: 'model.call', detail: { status: 413 } }]);
  });
});
