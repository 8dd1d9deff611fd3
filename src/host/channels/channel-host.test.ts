// The host's channels against the Telegram stand-in: the token unsealed from the store, /pair CODE checked
// against the hash in channels.yaml and written back once, a bound chat's message reaching the intake, the
// reply delivered through the outbox's channel map, and the state written for doctor.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { TelegramStandIn } from '../../../test/fixtures/telegram-api.ts';
import { startTelegramStandIn } from '../../../test/fixtures/telegram-api.ts';
import { channelSecretName, loadChannels, saveChannels } from '../../config/channels.ts';
import { resolveHome } from '../../config/home.ts';
import type { InboundMessage } from '../../channels/types.ts';
import { silentLogger } from '../../util/log.ts';
import { systemClock } from '../../util/clock.ts';
import { createEventBus } from '../daemon/events.ts';
import { openStore } from '../open.ts';
import { channelStatusFile, createChannelHost, sha256Hex } from './channel-host.ts';
import { unsentDelivery } from '../../store/daemon-types.ts';

describe('channel host', () => {
  let api: TelegramStandIn | undefined;
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    await api?.close();
  });

  it('pairs once by the code, then passes bound messages to the intake and delivers replies', async () => {
    api = await startTelegramStandIn();
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-chhost-'));
    cleanups.push(() => fs.rmSync(root, { recursive: true, force: true }));
    const home = resolveHome({ CORRAL_HOME: root });
    fs.mkdirSync(home.runDir, { recursive: true });
    saveChannels(home, {
      channels: {
        tg: {
          kind: 'telegram',
          apiRoot: api.apiRoot,
          pairing: { sha256: sha256Hex('ABCD-EFGH'), createdAt: '' },
        },
      },
    });
    const store = openStore(home);
    cleanups.push(() => store.close());
    store.putSecret(channelSecretName('tg'), api.token);
    const host = createChannelHost({ home, store, log: silentLogger });
    const got: InboundMessage[] = [];
    host.start(
      { receive: (m) => (got.push(m), Promise.resolve({ status: 'queued', messageIds: ['m'] })) },
      createEventBus({ clock: systemClock }),
    );
    cleanups.push(() => host.stop());
    const from = { id: 5, first_name: 'Ann' };
    const chat = { id: 5, type: 'private' as const };
    api.pushMessage({ chat, from, text: '/pair WRONG-CODE' });
    api.pushMessage({ chat, from, text: '/pair abcd-efgh' });
    api.pushMessage({
      chat: { id: 6, type: 'private' },
      from: { id: 6, first_name: 'Eve' },
      text: '/pair ABCD-EFGH',
    });
    api.pushMessage({ chat, from, text: 'hello' });
    await api.confirmed();
    const c = loadChannels(home).channels['tg'];
    expect(c).toMatchObject({ kind: 'telegram', owner: { chat: '5', sender: '5' } });
    expect(c?.kind === 'telegram' ? c.pairing : 'x').toBeUndefined();
    expect(host.owners('tg')).toEqual(['5']);
    expect(got.map((m) => m.text)).toEqual(['hello']);
    expect(store.listAudit({ subject: 'tg' }).map((e) => e.action)).toContain('channel.paired');
    const tg = host.outbound()['tg'];
    await tg?.deliver(
      {
        key: 'reply:1',
        messageId: '1',
        channel: 'tg',
        target: '5',
        payload: { to: { chat: '5' }, text: 'hi back' },
        ...unsentDelivery(''),
      },
      new AbortController().signal,
    );
    expect(api.sent.filter((s) => s.method === 'sendMessage').map((s) => s.params['text'])).toContain(
      'hi back',
    );
    await host.stop();
    const written: unknown = JSON.parse(fs.readFileSync(channelStatusFile(home), 'utf8'));
    expect(JSON.stringify(written)).toMatch(/"name":"tg"/);
    expect(JSON.stringify(written)).not.toContain(api.token);
  });
});
