// The Slack channel: Bolt in Socket Mode (no public URL), DMs and channel messages in, replies out in thread.
// It keeps one socket open, reconnecting with backoff; a refused token leaves it `failed` (still retrying
// slowly, in case the operator fixes the app), never throws into the host.
import { setTimeout as sleep } from 'node:timers/promises';
import { webApi } from '@slack/bolt';
import type { Logger } from '../../util/log.ts';
import { errorMessage } from '../../util/errors.ts';
import type { ChannelAdapter, ChannelSink, ChannelState, ChannelStatus, InboundMessage } from '../types.ts';
import { reconnectDelayMs } from '../types.ts';
import { createBoltApp, slackClientOptions } from './bolt.ts';
import { AUTH_ERRORS, deliverToSlack, slackErrorCode } from './deliver.ts';
import type { BotIdentity } from './inbound.ts';
import { parseSlackEvent } from './inbound.ts';

/** How many message ids (and bot threads) are remembered to drop Slack's redeliveries and duplicate events. */
const REMEMBER = 2_000;
/** At most one refusal notice per chat in this window, so a stranger cannot make the bot spam a channel. */
const NOTICE_INTERVAL_MS = 60_000;
/** A socket that stayed open this long was healthy: the next reconnect is immediate, not backed off. */
const STABLE_SESSION_MS = 30_000;

export interface SlackChannelOptions {
  name: string;
  appToken: string;
  botToken: string;
  /** the Web API root (a stand-in in tests); Slack's own when absent */
  apiUrl?: string;
  log: Logger;
  clock?: () => Date;
  /** wait before the n-th consecutive reconnect attempt */
  reconnectDelay?: (failures: number) => number;
}

export function createSlackChannel(opts: SlackChannelOptions): ChannelAdapter {
  const log = opts.log.child({ channel: opts.name, kind: 'slack' });
  const clock = opts.clock ?? (() => new Date());
  const delay = opts.reconnectDelay ?? reconnectDelayMs;
  const client = new webApi.WebClient(opts.botToken, slackClientOptions(opts.apiUrl, log));
  const progress = new Map<string, number>();
  const botThreads = new Set<string>();
  const done = new Set<string>();
  const inflight = new Map<string, Promise<void>>();
  const noticed = new Map<string, number>();
  let current: ChannelStatus = {
    name: opts.name,
    kind: 'slack',
    state: 'stopped',
    since: clock().toISOString(),
  };

  const setState = (state: ChannelState, detail?: string, fix?: string): void => {
    if (state !== current.state || detail !== current.detail)
      log[state === 'failed' ? 'error' : state === 'retrying' ? 'warn' : 'info'](`slack channel ${state}`, {
        ...(detail === undefined ? {} : { detail }),
      });
    current = {
      name: opts.name,
      kind: 'slack',
      state,
      since: state === current.state ? current.since : clock().toISOString(),
      ...(detail === undefined ? {} : { detail }),
      ...(fix === undefined ? {} : { fix }),
    };
  };
  const authFailed = (code: string, which: 'bot' | 'app'): void =>
    setState(
      'failed',
      `Slack refused the ${which} token (${code})`,
      `check the Slack app is installed, then run: corral channel add slack ${opts.name} --replace (both tokens)`,
    );
  const remember = (set: Set<string>, key: string): void => {
    set.add(key);
    if (set.size > REMEMBER) for (const k of set) if (set.delete(k) && set.size <= REMEMBER) break;
  };

  async function take(sink: ChannelSink, m: InboundMessage): Promise<void> {
    const result = await sink.receive(m);
    if (result.status !== 'refused' || result.notice === undefined) return;
    const now = clock().getTime();
    if (now - (noticed.get(m.chat) ?? -Infinity) < NOTICE_INTERVAL_MS) return;
    noticed.set(m.chat, now);
    if (noticed.size > REMEMBER) noticed.clear();
    await client.chat
      .postMessage({
        channel: m.chat,
        text: result.notice,
        ...(m.thread === undefined ? {} : { thread_ts: m.thread }),
      })
      .catch((err: unknown) => log.warn('could not tell the sender why', { error: errorMessage(err) }));
  }

  /** Hands a message to the host once, also when Slack sends it twice (message + app_mention, redelivery). */
  function receiveOnce(sink: ChannelSink, m: InboundMessage): Promise<void> {
    if (done.has(m.platformId)) return Promise.resolve();
    const running = inflight.get(m.platformId);
    if (running) return running;
    const p = take(sink, m)
      .then(() => remember(done, m.platformId))
      .finally(() => inflight.delete(m.platformId));
    inflight.set(m.platformId, p);
    return p;
  }

  /** One socket session: resolves when the socket closed or `signal` aborted; throws if it never opened. */
  async function runSocket(bot: BotIdentity, sink: ChannelSink, signal: AbortSignal): Promise<void> {
    const { app, receiver } = createBoltApp({
      appToken: opts.appToken,
      botToken: opts.botToken,
      botUserId: bot.userId,
      botId: bot.botId,
      ...(opts.apiUrl === undefined ? {} : { apiUrl: opts.apiUrl }),
      log,
    });
    const onEvent = async ({ event }: { event: unknown }): Promise<void> => {
      const parsed = parseSlackEvent(event, opts.name, bot, botThreads);
      if (!parsed.ok) {
        if (parsed.malformed) log.warn('malformed slack event skipped', { reason: parsed.reason });
        else log.debug('slack event skipped', { reason: parsed.reason });
        return;
      }
      await receiveOnce(sink, parsed.message);
    };
    app.event('message', onEvent);
    app.event('app_mention', onEvent);
    // closed by Slack, or by us when `signal` aborts
    const closed = new Promise<void>((resolve) => {
      receiver.client.on('disconnected', () => resolve());
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
    const stop = (): void => void receiver.client.disconnect();
    signal.addEventListener('abort', stop, { once: true });
    let opened = false;
    let starting: Promise<void> | undefined;
    try {
      starting = app.start().then(
        () => void (opened = true),
        (err: unknown) => {
          throw err instanceof Error ? err : new Error('the Slack socket closed before it said hello');
        },
      );
      await Promise.race([closed, starting]);
      if (signal.aborted) return;
      if (!opened) throw new Error('the Slack socket closed before it said hello');
      setState('connected');
      await closed;
    } finally {
      signal.removeEventListener('abort', stop);
      await receiver.client.disconnect();
      // a start() still under way may open its socket only now: close that one too once it is there
      if (!opened) void starting?.catch(() => undefined).then(() => receiver.client.disconnect());
    }
  }

  async function identify(): Promise<BotIdentity> {
    const r = await client.auth.test();
    if (typeof r.user_id !== 'string' || typeof r.bot_id !== 'string')
      throw new Error('auth.test did not name the bot user: is this a bot token (xoxb-…)?');
    return { userId: r.user_id, botId: r.bot_id };
  }

  return {
    kind: 'slack',
    name: opts.name,
    status: () => current,
    deliver: (item, signal, journal) =>
      deliverToSlack(
        {
          client,
          progress,
          posted: (key) => remember(botThreads, key),
          authFailed: (code) => authFailed(code, 'bot'),
        },
        item,
        signal,
        journal,
      ),
    async start(sink, signal) {
      setState('starting');
      let failures = 0;
      let bot: BotIdentity | undefined;
      while (!signal.aborted) {
        try {
          bot ??= await identify();
          const opened = Date.now();
          await runSocket(bot, sink, signal);
          failures = Date.now() - opened >= STABLE_SESSION_MS ? 0 : failures + 1;
          if (!signal.aborted) setState('retrying', 'the Slack socket closed; reconnecting');
        } catch (err) {
          failures++;
          const code = slackErrorCode(err);
          if (code !== undefined && AUTH_ERRORS.has(code))
            authFailed(code, bot === undefined ? 'bot' : 'app');
          else setState('retrying', errorMessage(err));
        }
        if (failures > 0) await sleep(delay(failures), undefined, { signal }).catch(() => undefined);
      }
      setState('stopped');
    },
  };
}
