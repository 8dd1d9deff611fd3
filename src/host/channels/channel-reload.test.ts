// channels.yaml followed while the host runs, against Telegram stand-ins: an added channel starts, a changed one
// restarts, a removed one stops, the others keep their adapter; an invalid file changes nothing and is reported;
// a channel stopped while handing a message to the host finishes it and confirms it, so it never comes twice.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { TelegramStandIn } from '../../../test/fixtures/telegram-api.ts';
import { startTelegramStandIn } from '../../../test/fixtures/telegram-api.ts';
import type { ChannelSink, InboundMessage } from '../../channels/types.ts';
import type { ChannelConfig } from '../../config/channels.ts';
import { channelSecretName, channelsFile, saveChannels } from '../../config/channels.ts';
import { resolveHome } from '../../config/home.ts';
import { systemClock } from '../../util/clock.ts';
import { silentLogger } from '../../util/log.ts';
import { createEventBus } from '../daemon/events.ts';
import { openStore } from '../open.ts';
import { channelStatusFile, createChannelHost } from './channel-host.ts';

const WAIT = { timeout: 10_000, interval: 20 };
const owner = { chat: '5', sender: '5' };

describe('channel host follows channels.yaml', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function standIn(): Promise<TelegramStandIn> {
    const api = await startTelegramStandIn();
    cleanups.push(() => api.close());
    return api;
  }

  function setup() {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-chreload-'));
    cleanups.push(() => fs.rmSync(root, { recursive: true, force: true }));
    const home = resolveHome({ CORRAL_HOME: root });
    fs.mkdirSync(home.runDir, { recursive: true });
    const store = openStore(home);
    cleanups.push(() => store.close());
    const got: InboundMessage[] = [];
    /** texts handed to the host, before it answered */
    const arrived: string[] = [];
    let hold: Promise<void> = Promise.resolve();
    const sink: ChannelSink = {
      async receive(m) {
        arrived.push(m.text);
        await hold;
        got.push(m);
        return { status: 'queued', messageIds: [m.platformId] };
      },
    };
    const save = (channels: Record<string, ChannelConfig>): void => saveChannels(home, { channels });
    const start = () => {
      const host = createChannelHost({ home, store, log: silentLogger, debounceMs: 20 });
      host.start(sink, createEventBus({ clock: systemClock }));
      cleanups.push(() => host.stop());
      return host;
    };
    return {
      home,
      store,
      got,
      arrived,
      save,
      start,
      holdNext: (p: Promise<void>): void => {
        hold = p;
      },
    };
  }

  const say = (api: TelegramStandIn, text: string): number =>
    api.pushMessage({ chat: { id: 5, type: 'private' }, from: { id: 5, first_name: 'Ann' }, text });

  it('starts added, restarts changed and stops removed channels, leaving the others running', async () => {
    const [a, b, c] = [await standIn(), await standIn(), await standIn()];
    const t = setup();
    t.store.putSecret(channelSecretName('one'), a.token);
    t.save({ one: { kind: 'telegram', apiRoot: a.apiRoot, owner } });
    const host = t.start();
    const one = host.outboundTo('one');
    expect(one).toBeDefined();
    say(a, 'to one');
    await a.confirmed();

    // added while running: picked up by the watcher, no restart of the host
    t.store.putSecret(channelSecretName('two'), b.token);
    t.save({
      one: { kind: 'telegram', apiRoot: a.apiRoot, owner },
      two: { kind: 'telegram', apiRoot: b.apiRoot, owner },
    });
    await vi.waitFor(() => expect(host.outboundTo('two')).toBeDefined(), WAIT);
    say(b, 'to two');
    await b.confirmed();
    const two = host.outboundTo('two');

    // two changed (another API root): restarted; one untouched
    t.save({
      one: { kind: 'telegram', apiRoot: a.apiRoot, owner },
      two: { kind: 'telegram', apiRoot: c.apiRoot, owner },
    });
    await vi.waitFor(() => expect(host.outboundTo('two')).not.toBe(two), WAIT);
    say(c, 'to two, moved');
    await c.confirmed();
    expect(host.outboundTo('one')).toBe(one);

    // only the pairing state changed (what the host writes itself when a chat pairs): nothing restarts
    t.save({
      one: { kind: 'telegram', apiRoot: a.apiRoot, owner: { chat: '6', sender: '6' } },
      two: { kind: 'telegram', apiRoot: c.apiRoot, owner },
    });
    await host.reload();
    expect(host.outboundTo('one')).toBe(one);
    expect(host.owners('one')).toEqual(['6']);

    // removed: stopped; its stand-in is polled no more
    t.save({ one: { kind: 'telegram', apiRoot: a.apiRoot, owner } });
    await vi.waitFor(() => expect(host.outboundTo('two')).toBeUndefined(), WAIT);
    const polls = c.calls.filter((x) => x.method === 'getUpdates').length;
    say(a, 'one still runs');
    await a.confirmed();
    expect(c.calls.filter((x) => x.method === 'getUpdates').length).toBe(polls);
    expect(host.outboundTo('one')).toBe(one);
    expect(t.got.map((m) => `${m.channel}:${m.text}`)).toEqual([
      'one:to one',
      'two:to two',
      'two:to two, moved',
      'one:one still runs',
    ]);
  });

  it('keeps the running channels when the file turns invalid, reports it, and recovers when it is fixed', async () => {
    const a = await standIn();
    const t = setup();
    t.store.putSecret(channelSecretName('one'), a.token);
    t.save({ one: { kind: 'telegram', apiRoot: a.apiRoot, owner } });
    const host = t.start();
    const one = host.outboundTo('one');

    fs.writeFileSync(channelsFile(t.home), 'channels:\n  one: { kind: telegram, apiRoot: [\n');
    await host.reload();
    expect(host.outboundTo('one')).toBe(one);
    expect(host.statuses()[0]?.detail).toMatch(/channels\.yaml is invalid.*last good settings/);
    expect(fs.readFileSync(channelStatusFile(t.home), 'utf8')).toContain('channels.yaml is invalid');
    say(a, 'still heard');
    await a.confirmed();
    expect(t.got.map((m) => m.text)).toEqual(['still heard']);

    // a schema error (not just YAML syntax) is refused the same way
    fs.writeFileSync(channelsFile(t.home), 'channels:\n  one: { kind: telegram, token: oops }\n');
    await host.reload();
    expect(host.outboundTo('one')).toBe(one);

    t.save({ one: { kind: 'telegram', apiRoot: a.apiRoot, owner } });
    await vi.waitFor(() => expect(host.statuses()[0]?.detail ?? '').not.toMatch(/invalid/), WAIT);
    expect(host.outboundTo('one')).toBe(one);
  });

  it('a channel removed while handing a message to the host finishes it and does not take it again', async () => {
    const a = await standIn();
    const t = setup();
    t.store.putSecret(channelSecretName('one'), a.token);
    t.save({ one: { kind: 'telegram', apiRoot: a.apiRoot, owner } });
    const host = t.start();
    let release: () => void = () => undefined;
    t.holdNext(new Promise<void>((r) => (release = r)));
    say(a, 'in flight');
    await vi.waitFor(() => expect(t.arrived).toEqual(['in flight']), WAIT);

    t.save({});
    const removed = host.reload();
    release();
    await removed;
    expect(host.outboundTo('one')).toBeUndefined();
    expect(t.got.map((m) => m.text)).toEqual(['in flight']);
    await a.confirmed(); // confirmed on the way out, not left for the next poller

    t.holdNext(Promise.resolve());
    t.save({ one: { kind: 'telegram', apiRoot: a.apiRoot, owner } });
    await host.reload();
    say(a, 'after');
    await a.confirmed();
    expect(t.got.map((m) => m.text)).toEqual(['in flight', 'after']);
  });
});
