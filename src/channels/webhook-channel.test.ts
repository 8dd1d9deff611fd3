// The webhook channel: the channel contract against a loopback receiver, and the signature rules (unsigned,
// bad signature, stale timestamp refused; replies signed so the receiver can check them).
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { startWebhookReceiver } from '../../test/fixtures/webhook-receiver.ts';
import { silentLogger } from '../util/log.ts';
import { channelContract } from './channel.contract.ts';
import type { InboundMessage } from './types.ts';
import { createWebhookAdapter, WEBHOOK_TEXT_LIMIT } from './webhook-channel.ts';
import {
  signature,
  signedHeaders,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  verifySignature,
} from './webhook-signature.ts';
import { unsentDelivery } from '../store/daemon-types.ts';

const SECRET = 'test-signing-key-0123456789';

async function serve(handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>) {
  const server: Server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  return {
    url: `http://127.0.0.1:${addr.port}/v1/channels/webhook/x`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const post = (url: string, body: string, headers: Record<string, string>) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

channelContract('webhook', async ({ name, log }) => {
  const receiver = await startWebhookReceiver();
  const adapter = createWebhookAdapter({ name, secret: SECRET, url: receiver.url, log });
  const inbound = await serve((req, res) => adapter.handle(req, res));
  const send = async (body: string): Promise<void> => {
    await post(inbound.url, body, signedHeaders(SECRET, body, new Date()));
  };
  return {
    adapter,
    limit: WEBHOOK_TEXT_LIMIT,
    chats: { bound: 'ticket-1', unknown: 'ticket-2' },
    inbound: (m) => send(JSON.stringify({ chat: m.chat, sender: { id: m.sender }, text: m.text })),
    malformed: () => send('{"chat": 5, "text": '),
    delivered: () =>
      receiver.received.map((r) => ({ chat: String(r.body['chat']), text: String(r.body['text']) })),
    rateLimitNext: (seconds) => receiver.failNext({ status: 429, retryAfter: seconds }),
    deliveryCalls: () => receiver.attempts(),
    down: () => receiver.stop(),
    up: () => receiver.restart(),
    close: async () => {
      await inbound.close();
      await receiver.close();
    },
  };
});

describe('webhook signatures', () => {
  const body = Buffer.from('{"a":1}');
  const now = new Date('2026-11-29T12:00:00Z');
  const ts = String(now.getTime() / 1000);

  it('accepts a good signature and refuses unsigned, wrong, tampered and stale requests', () => {
    const sig = signature(SECRET, ts, body);
    expect(verifySignature(SECRET, { signature: sig, timestamp: ts }, body, now)).toEqual({ ok: true });
    expect(verifySignature(SECRET, {}, body, now).ok).toBe(false);
    expect(verifySignature('other', { signature: sig, timestamp: ts }, body, now).ok).toBe(false);
    expect(verifySignature(SECRET, { signature: sig, timestamp: ts }, Buffer.from('{"a":2}'), now).ok).toBe(
      false,
    );
    expect(verifySignature(SECRET, { signature: 'sha256=00', timestamp: ts }, body, now).ok).toBe(false);
    const old = String(now.getTime() / 1000 - 301);
    const stale = verifySignature(
      SECRET,
      { signature: signature(SECRET, old, body), timestamp: old },
      body,
      now,
    );
    expect(stale.ok).toBe(false);
    expect(JSON.stringify(stale)).toMatch(/5 minutes/);
  });
});

describe('webhook channel', () => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of closers.splice(0)) await c();
  });

  it('answers 401 to unsigned and badly signed requests without reaching the host, 202 after the commit', async () => {
    const got: InboundMessage[] = [];
    const adapter = createWebhookAdapter({ name: 'hook', secret: SECRET, log: silentLogger });
    const stop = new AbortController();
    const running = adapter.start(
      { receive: (m) => (got.push(m), Promise.resolve({ status: 'queued', messageIds: ['m1'] })) },
      stop.signal,
    );
    closers.push(async () => {
      stop.abort();
      await running;
    });
    const srv = await serve((req, res) => adapter.handle(req, res));
    closers.push(srv.close);
    const text = JSON.stringify({ chat: 'c1', sender: { id: 'u1', name: 'Ann' }, text: 'hi', id: 'e1' });
    expect((await post(srv.url, text, {})).status).toBe(401);
    const bad = {
      [TIMESTAMP_HEADER]: String(Math.floor(Date.now() / 1000)),
      [SIGNATURE_HEADER]: 'sha256=' + 'ab'.repeat(32),
    };
    expect((await post(srv.url, text, bad)).status).toBe(401);
    const staleNow = new Date(Date.now() - 10 * 60_000);
    expect((await post(srv.url, text, signedHeaders(SECRET, text, staleNow))).status).toBe(401);
    expect(got).toHaveLength(0);
    const ok = await post(srv.url, text, signedHeaders(SECRET, text, new Date()));
    expect(ok.status).toBe(202);
    expect(await ok.json()).toEqual({ status: 'queued', ids: ['m1'] });
    expect(got[0]).toMatchObject({
      channel: 'hook',
      chat: 'c1',
      sender: { id: 'u1', display: 'Ann' },
      text: 'hi',
      platformId: 'e1',
      direct: true,
    });
    // without an id in the body, the sender's Idempotency-Key names the message (a retry repeats it)
    const keyed = JSON.stringify({ chat: 'c1', sender: { id: 'u1' }, text: 'again' });
    const headers = { ...signedHeaders(SECRET, keyed, new Date()), 'idempotency-key': 'delivery-77' };
    expect((await post(srv.url, keyed, headers)).status).toBe(202);
    expect(got[1]?.platformId).toBe('delivery-77');
  });

  it('signs replies so the receiver can verify them, with the outbox key as Idempotency-Key', async () => {
    // a file the agent sent, as the outbox hands it over (src/host/daemon/outbox-files.ts)
    const file = {
      id: 'f1',
      name: 'r.pdf',
      mime: 'application/pdf',
      size: 4,
      sha256: '0'.repeat(64),
      caption: 'the report',
      content: Buffer.from('%PDF').toString('base64'),
    };
    const receiver = await startWebhookReceiver();
    closers.push(() => receiver.close());
    const adapter = createWebhookAdapter({
      name: 'hook',
      secret: SECRET,
      url: receiver.url,
      log: silentLogger,
    });
    await adapter.deliver(
      {
        key: 'reply:9',
        messageId: '9',
        channel: 'hook',
        target: 'c1',
        payload: { to: { chat: 'c1', replyTo: 'e1' }, text: 'answer', status: 'done', files: [file] },
        ...unsentDelivery(''),
      },
      new AbortController().signal,
    );
    const [r] = receiver.received;
    expect(r?.headers['idempotency-key']).toBe('reply:9');
    expect(r?.body).toMatchObject({
      key: 'reply:9',
      chat: 'c1',
      replyTo: 'e1',
      text: 'answer',
      status: 'done',
      files: [file],
    });
    const v = verifySignature(
      SECRET,
      { signature: r?.headers[SIGNATURE_HEADER], timestamp: r?.headers[TIMESTAMP_HEADER] },
      Buffer.from(r?.raw ?? ''),
      new Date(),
    );
    expect(v).toEqual({ ok: true });
  });
});
