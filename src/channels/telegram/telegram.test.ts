// The Telegram adapter against the Bot API stand-in (test/fixtures/telegram-api.ts): the channel contract, and
// what only Telegram has: groups, pairing, typing, documents, a revoked token.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { TelegramStandIn } from '../../../test/fixtures/telegram-api.ts';
import { BOT, startTelegramStandIn } from '../../../test/fixtures/telegram-api.ts';
import { silentLogger } from '../../util/log.ts';
import { channelContract } from '../channel.contract.ts';
import type { ChannelSink, InboundMessage, IntakeResult } from '../types.ts';
import { newWebhookSecret } from './webhook.ts';
import { createTelegramChannel, PAIRED_NOTICE, TELEGRAM_TEXT_LIMIT, UNPAIRED_NOTICE } from './telegram.ts';
import { unsentDelivery } from '../../store/daemon-types.ts';

const fast = { pollTimeoutSeconds: 1, backoff: () => 50 };
const paired = { paired: () => true, claim: () => false };

channelContract('telegram', async ({ name, log }) => {
  const api = await startTelegramStandIn();
  const adapter = createTelegramChannel({
    name,
    token: api.token,
    apiRoot: api.apiRoot,
    log,
    pairing: paired,
    ...fast,
  });
  return {
    adapter,
    limit: TELEGRAM_TEXT_LIMIT,
    chats: { bound: '1001', unknown: '1002' },
    async inbound(m) {
      api.pushMessage({
        chat: { id: Number(m.chat), type: 'private' },
        from: { id: Number(m.sender), first_name: 'Ann' },
        text: m.text,
      });
      await api.confirmed();
    },
    async malformed() {
      api.pushRaw({ message: { message_id: 'not a number', chat: 5 } });
      await api.confirmed();
    },
    delivered: () =>
      api.sent
        .filter((s) => s.method === 'sendMessage')
        .map((s) => ({ chat: String(s.params['chat_id']), text: String(s.params['text']) })),
    rateLimitNext: (seconds) => api.failNext('sendMessage', { code: 429, retryAfter: seconds }),
    deliveryCalls: () => api.calls.filter((c) => c.method === 'sendMessage').length,
    down: () => api.stop(),
    up: () => api.restart(),
    close: () => api.close(),
  };
});

// the same contract in webhook mode: updates come as POSTs from "Telegram" (the stand-in) to the adapter's route
channelContract('telegram-webhook', async ({ name, log }) => {
  const api = await startTelegramStandIn();
  const adapter = createTelegramChannel({
    name,
    token: api.token,
    apiRoot: api.apiRoot,
    log,
    pairing: paired,
    webhook: { url: 'https://bot.example.com/hook', secret: newWebhookSecret() },
    ...fast,
  });
  const server = createServer((req, res) => void adapter.handleWebhook(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  const origin = `http://127.0.0.1:${addr !== null && typeof addr === 'object' ? addr.port : 0}`;
  const hooked = async (): Promise<void> => {
    // the webhook is set and the route takes updates (a failed delivery later makes it `retrying`, not deaf)
    while (adapter.status().state === 'starting' || api.webhook() === undefined)
      await new Promise((r) => setTimeout(r, 20));
  };
  return {
    adapter,
    limit: TELEGRAM_TEXT_LIMIT,
    chats: { bound: '1001', unknown: '1002' },
    async inbound(m) {
      await hooked();
      const r = await api.postUpdate(origin, {
        chat: { id: Number(m.chat), type: 'private' },
        from: { id: Number(m.sender), first_name: 'Ann' },
        text: m.text,
      });
      if (r.status !== 200) throw new Error(`webhook answered ${r.status}`);
    },
    async malformed() {
      await hooked();
      const r = await api.postRaw(origin, { message: { message_id: 'not a number', chat: 5 } });
      if (r.status !== 200) throw new Error(`webhook answered ${r.status}`);
    },
    delivered: () =>
      api.sent
        .filter((s) => s.method === 'sendMessage')
        .map((s) => ({ chat: String(s.params['chat_id']), text: String(s.params['text']) })),
    rateLimitNext: (seconds) => api.failNext('sendMessage', { code: 429, retryAfter: seconds }),
    deliveryCalls: () => api.calls.filter((c) => c.method === 'sendMessage').length,
    down: () => api.stop(),
    up: () => api.restart(),
    async close() {
      await new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      });
      await api.close();
    },
  };
});

describe('telegram adapter', () => {
  let api: TelegramStandIn | undefined;
  let stop: AbortController | undefined;
  let running: Promise<void> | undefined;
  afterEach(async () => {
    stop?.abort();
    await running;
    await api?.close();
  });

  function recordingSink(result: IntakeResult = { status: 'queued', messageIds: ['x'] }) {
    const got: InboundMessage[] = [];
    const sink: ChannelSink = { receive: (m) => (got.push(m), Promise.resolve(result)) };
    return { got, sink };
  }

  async function start(opts: {
    pairing?: Parameters<typeof createTelegramChannel>[0]['pairing'];
    sink: ChannelSink;
  }) {
    api = await startTelegramStandIn();
    const adapter = createTelegramChannel({
      name: 'tg',
      token: api.token,
      apiRoot: api.apiRoot,
      log: silentLogger,
      pairing: opts.pairing ?? paired,
      ...fast,
    });
    stop = new AbortController();
    running = adapter.start(opts.sink, stop.signal);
    return { adapter, api };
  }

  it('in groups, flags a mention of the bot and a reply to the bot, and not other chatter', async () => {
    const { got, sink } = recordingSink();
    const { api } = await start({ sink });
    const group = { id: -100500, type: 'supergroup' as const, title: 'team' };
    const from = { id: 9, first_name: 'Bo', username: 'bo' };
    api.pushMessage({ chat: group, from, text: 'just chatting' });
    const text = `hey @${BOT.username} what's up`;
    api.pushMessage({
      chat: group,
      from,
      text,
      entities: [{ type: 'mention', offset: 4, length: BOT.username.length + 1 }],
    });
    api.pushMessage({
      chat: group,
      from,
      text: 'and this',
      reply_to_message: { message_id: 3, from: { id: BOT.id, is_bot: true, first_name: 'Corral' } },
    });
    await api.confirmed();
    expect(got.map((m) => [m.text, m.direct, m.mentioned, m.replyToBot])).toEqual([
      ['just chatting', false, false, false],
      [text, false, true, false],
      ['and this', false, false, true],
    ]);
    expect(got[0]).toMatchObject({ chat: '-100500', sender: { id: '9', display: 'Bo (@bo)' } });
  });

  it('refuses politely until paired; the first chat with the right code becomes the owner, once', async () => {
    let owner: { chat: string; sender: string } | undefined;
    const pairing = {
      paired: () => owner !== undefined,
      claim: (code: string, who: { chat: string; sender: string }) => {
        if (owner !== undefined || code !== 'K7Q2-X9') return false;
        owner = who;
        return true;
      },
    };
    const { got, sink } = recordingSink();
    const { api } = await start({ sink, pairing });
    const from = { id: 5, first_name: 'Ann' };
    api.pushMessage({ chat: { id: 5, type: 'private' }, from, text: 'hello?' });
    api.pushMessage({ chat: { id: 5, type: 'private' }, from, text: '/pair K7Q2-X9' });
    api.pushMessage({ chat: { id: 5, type: 'private' }, from, text: 'now?' });
    await api.confirmed();
    const texts = api.sent.filter((s) => s.method === 'sendMessage').map((s) => s.params['text']);
    expect(texts).toEqual([UNPAIRED_NOTICE, PAIRED_NOTICE]);
    expect(owner).toEqual({ chat: '5', sender: '5' });
    expect(got.map((m) => m.text)).toEqual(['now?']);
  });

  it('tells a refused sender why, once a minute at most', async () => {
    const { sink } = recordingSink({ status: 'refused', reason: 'unknown sender', notice: 'not allowed' });
    const { api } = await start({ sink });
    for (const text of ['a', 'b'])
      api.pushMessage({ chat: { id: 8, type: 'private' }, from: { id: 8, first_name: 'X' }, text });
    await api.confirmed();
    expect(api.sent.filter((s) => s.method === 'sendMessage').map((s) => s.params['text'])).toEqual([
      'not allowed',
    ]);
  });

  it('shows typing, replies in the thread, and sends files as documents', async () => {
    const report = Buffer.concat([Buffer.from('a,b\n1,2\n'), randomBytes(100_000)]);
    const { sink } = recordingSink();
    const { adapter, api } = await start({ sink });
    const signal = new AbortController().signal;
    await adapter.typing?.({ chat: '-1007', thread: '12' }, signal);
    await adapter.deliver(
      {
        key: 'reply:1',
        messageId: '1',
        channel: 'tg',
        target: '-1007',
        payload: {
          to: { chat: '-1007', thread: '12', replyTo: '55' },
          text: 'here is the report',
          files: [{ name: 'report.csv', content: report.toString('base64'), caption: 'Q3 numbers' }],
        },
        ...unsentDelivery(new Date().toISOString()),
      },
      signal,
    );
    const [typing, message, document] = api.sent.filter((s) => s.method !== 'getMe');
    expect(typing).toMatchObject({
      method: 'sendChatAction',
      params: { chat_id: '-1007', action: 'typing', message_thread_id: 12 },
    });
    expect(message).toMatchObject({
      method: 'sendMessage',
      params: { text: 'here is the report', message_thread_id: 12, reply_parameters: { message_id: 55 } },
    });
    expect(document?.method).toBe('sendDocument');
    expect(document?.document?.name).toBe('report.csv');
    expect(document?.document?.bytes.equals(report)).toBe(true); // a real multipart upload, byte for byte
    expect(document?.params).toMatchObject({ caption: 'Q3 numbers', message_thread_id: 12 });
  });

  it('reports a revoked token in its status with the fix, keeps running, and refuses deliveries for retry', async () => {
    const { sink } = recordingSink();
    const { adapter, api } = await start({ sink });
    await expect.poll(() => adapter.status().state).toBe('connected');
    api.revoke();
    await expect.poll(() => adapter.status().state, { timeout: 10_000 }).toBe('failed');
    expect(adapter.status().detail).toMatch(/token rejected/);
    expect(adapter.status().fix).toMatch(/BotFather/);
    expect(JSON.stringify(adapter.status())).not.toContain(api.token);
    const item = {
      key: 'reply:2',
      messageId: '2',
      channel: 'tg',
      target: '5',
      payload: { to: { chat: '5' }, text: 'x' },
      ...unsentDelivery(''),
    };
    const err = await adapter.deliver(item, new AbortController().signal).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(String(err)).not.toContain(api.token);
  });
});
