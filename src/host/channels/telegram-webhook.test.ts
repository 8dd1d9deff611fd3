// Telegram in webhook mode through corral up's real HTTP handler, against the Bot API stand-in: setWebhook with the
// secret sealed in the store, an update POSTed with that secret becomes an inbound message, a missing or wrong
// secret, a broken body or an oversized one is refused, a host stop keeps the webhook and a removal deletes it,
// switching back to long polling works, and neither the bot token nor the secret is ever logged.
import fs from 'node:fs';
import type { Server } from 'node:http';
import { createServer } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { messageServiceForTest } from '../../../test/fixtures/message-service.ts';
import type { TelegramStandIn } from '../../../test/fixtures/telegram-api.ts';
import { startTelegramStandIn } from '../../../test/fixtures/telegram-api.ts';
import {
  newWebhookSecret,
  SECRET_HEADER,
  TELEGRAM_WEBHOOK_MAX_BYTES,
} from '../../channels/telegram/webhook.ts';
import type { InboundMessage } from '../../channels/types.ts';
import { saveAgent } from '../../config/agent-files.ts';
import type { ChannelConfig } from '../../config/channels.ts';
import { channelSecretName, saveChannels } from '../../config/channels.ts';
import { resolveHome } from '../../config/home.ts';
import { AgentConfig } from '../../config/schema.ts';
import { createLogger } from '../../util/log.ts';
import { createApiHandler } from '../../web/server.ts';
import { createIntake } from '../daemon/intake.ts';
import { openGovernance } from '../governance.ts';
import { openStore } from '../open.ts';
import { createChannelHost } from './channel-host.ts';

const WAIT = { timeout: 10_000, interval: 20 };
const HOOK = 'https://bot.example.com/v1/channels/telegram/tg';
const owner = { chat: '5', sender: '5' };
const ann = { chat: { id: 5, type: 'private' as const }, from: { id: 5, first_name: 'Ann' } };

describe('telegram webhook mode', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup() {
    const api: TelegramStandIn = await startTelegramStandIn();
    cleanups.push(() => api.close());
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-tghook-'));
    cleanups.push(() => fs.rmSync(root, { recursive: true, force: true }));
    const home = resolveHome({ CORRAL_HOME: root });
    fs.mkdirSync(home.runDir, { recursive: true });
    fs.mkdirSync(home.agentsDir, { recursive: true });
    saveAgent(home, AgentConfig.parse({ name: 'alpha', model: 'p:m' }));
    const store = openStore(home);
    cleanups.push(() => store.close());
    const secret = newWebhookSecret();
    store.putSecret(channelSecretName('tg'), api.token);
    store.putSecret(channelSecretName('tg', 'webhook'), secret);
    const save = (tg?: Partial<Extract<ChannelConfig, { kind: 'telegram' }>>): void =>
      saveChannels(home, {
        channels:
          tg === undefined
            ? {}
            : { tg: { kind: 'telegram', apiRoot: api.apiRoot, owner, webhook: { url: HOOK }, ...tg } },
      });
    save({});
    const lines: string[] = [];
    const log = createLogger({ level: 'debug', write: (l) => void lines.push(l) });

    // the API handler as corral up builds it, its message service over real parts (turns never run here)
    const { catalog, events, messages, close } = messageServiceForTest({ home, store, log });
    cleanups.push(close);
    const gov = openGovernance(home, store);
    const intake = createIntake({ gov, agent: (n) => catalog.get(n), messages, log });

    const host = createChannelHost({ home, store, log, debounceMs: 20 });
    const got: InboundMessage[] = [];
    let stopped = false;
    host.start(
      { receive: (m) => (got.push(m), Promise.resolve({ status: 'queued', messageIds: [m.platformId] })) },
      events,
    );
    cleanups.push(() => (stopped ? undefined : host.stop()));
    const server: Server = createServer(
      createApiHandler({
        token: 'api-token-0123456789abcdefghijklmnopqrstuvw',
        policy: gov.policy,
        log,
        messages,
        intake,
        events,
        metrics: () => '',
        health: () => ({ status: 'ok' }),
        channelWebhook: (kind, name, req, res) => host.handleWebhook(kind, name, req, res),
      }),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          server.closeAllConnections();
          server.close(() => r());
        }),
    );
    const addr = server.address();
    const origin = `http://127.0.0.1:${addr !== null && typeof addr === 'object' ? addr.port : 0}`;
    const stopHost = async (): Promise<void> => {
      stopped = true;
      await host.stop();
    };
    return { api, host, got, lines, origin, secret, save, stopHost };
  }

  it('sets the webhook with its secret and takes a signed update as an inbound message', async () => {
    const t = await setup();
    await vi.waitFor(() => expect(t.api.webhook()).toEqual({ url: HOOK, secret: t.secret }), WAIT);
    await vi.waitFor(() => expect(t.host.statuses()[0]?.state).toBe('connected'), WAIT);
    const r = await t.api.postUpdate(t.origin, { ...ann, text: 'hello by webhook' });
    expect(r.status).toBe(200);
    expect(t.got.map((m) => [m.channel, m.chat, m.text])).toEqual([['tg', '5', 'hello by webhook']]);
    expect(t.api.calls.some((c) => c.method === 'getUpdates')).toBe(false);

    // a stop keeps the webhook: Telegram holds the updates until the host is back
    await t.stopHost();
    expect(t.api.webhook()).toBeDefined();
    expect(t.api.sent.some((s) => s.method === 'deleteWebhook')).toBe(false);
    expect(t.lines.join('')).not.toContain(t.api.token);
    expect(t.lines.join('')).not.toContain(t.secret);
  });

  it('refuses a missing or wrong secret (401), a body that is not JSON (400) and an oversized one (413)', async () => {
    const t = await setup();
    await vi.waitFor(() => expect(t.host.statuses()[0]?.state).toBe('connected'), WAIT);
    expect((await t.api.postUpdate(t.origin, { ...ann, text: 'no secret' }, { secret: null })).status).toBe(
      401,
    );
    const wrong = `${t.secret.slice(0, -1)}${t.secret.endsWith('A') ? 'B' : 'A'}`;
    expect((await t.api.postUpdate(t.origin, { ...ann, text: 'wrong' }, { secret: wrong })).status).toBe(401);
    const post = (body: string, secret = t.secret) =>
      fetch(`${t.origin}/v1/channels/telegram/tg`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [SECRET_HEADER]: secret },
        body,
      });
    expect((await post('{"update_id": 1, "message": ')).status).toBe(400);
    expect((await post('x'.repeat(TELEGRAM_WEBHOOK_MAX_BYTES + 1))).status).toBe(413);
    // a well-formed update that is not a message is taken (200) and skipped, so Telegram does not resend it
    expect((await post('{"update_id": 2, "edited_message": {}}')).status).toBe(200);
    // a webhook channel's route does not reach a Telegram channel, and the API token is not a way in
    const other = await fetch(`${t.origin}/v1/channels/webhook/tg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [SECRET_HEADER]: t.secret },
      body: '{}',
    });
    expect(other.status).toBe(401);
    expect(t.got).toEqual([]);
    expect(t.lines.join('')).toMatch(/telegram webhook request refused/);
    expect(t.lines.join('')).not.toContain(t.secret);
    expect(t.lines.join('')).not.toContain(t.api.token);
  });

  it('switches to long polling and back without a restart, and deletes the webhook when the channel is removed', async () => {
    const t = await setup();
    await vi.waitFor(() => expect(t.api.webhook()).toBeDefined(), WAIT);

    t.save({ webhook: undefined }); // as `corral channel add telegram tg --replace` without --webhook-url
    await vi.waitFor(() => expect(t.api.webhook()).toBeUndefined(), WAIT); // 409 from getUpdates, then deleted
    t.api.pushMessage({ ...ann, text: 'polled' });
    await t.api.confirmed();
    expect(t.got.map((m) => m.text)).toEqual(['polled']);

    t.save({});
    await vi.waitFor(() => expect(t.api.webhook()).toBeDefined(), WAIT);
    expect((await t.api.postUpdate(t.origin, { ...ann, text: 'hooked again' })).status).toBe(200);

    t.save(undefined);
    await vi.waitFor(() => expect(t.host.statuses()).toEqual([]), WAIT); // gone once the webhook is
    expect(t.api.webhook()).toBeUndefined();
    expect(t.api.sent.filter((s) => s.method === 'deleteWebhook').length).toBeGreaterThanOrEqual(2);
    expect(t.got.map((m) => m.text)).toEqual(['polled', 'hooked again']);
    expect(t.lines.join('')).not.toContain(t.api.token);
  });
});
