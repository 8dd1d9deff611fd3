// The host's channels: one adapter per channel in channels.yaml (its token unsealed from the store), started with
// the intake as their sink, registered with the outbox for replies, "typing…" while a turn for their chat runs,
// pairing written back to channels.yaml, and their status written to run/channels.json for `corral doctor`.
import { createHash, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createSlackChannel } from '../../channels/slack/adapter.ts';
import { createTelegramChannel } from '../../channels/telegram/telegram.ts';
import type { ChannelAdapter, ChannelSink, ChannelStatus, OutboxChannel } from '../../channels/types.ts';
import { createWebhookAdapter } from '../../channels/webhook-channel.ts';
import type { ChannelConfig } from '../../config/channels.ts';
import { channelSecretName, loadChannels, saveChannels } from '../../config/channels.ts';
import type { HomePaths } from '../../config/home.ts';
import type { Store } from '../../store/types.ts';
import { errorMessage } from '../../util/errors.ts';
import type { Logger } from '../../util/log.ts';
import type { EventBus } from '../daemon/events.ts';

/** Telegram shows "typing…" for about 5 s per call. */
const TYPING_EVERY_MS = 4_500;
const STATUS_WRITE_MS = 2_000;

export const channelStatusFile = (home: HomePaths): string => path.join(home.runDir, 'channels.json');

export const sha256Hex = (text: string): string => createHash('sha256').update(text).digest('hex');

type WebhookAdapter = ReturnType<typeof createWebhookAdapter>;

export function createChannelHost(deps: { home: HomePaths; store: Store; log: Logger }) {
  const { home, store } = deps;
  const log = deps.log.child({ part: 'channels' });
  const adapters = new Map<string, ChannelAdapter>();
  const webhooks = new Map<string, WebhookAdapter>();
  const broken: ChannelStatus[] = [];
  let configs: Record<string, ChannelConfig> = {};
  try {
    configs = loadChannels(home).channels;
  } catch (err) {
    log.error('channels.yaml is invalid; no channels run', { err: errorMessage(err) });
  }

  const pairing = (name: string) => ({
    paired: (): boolean => {
      const c = configs[name];
      return c?.kind === 'telegram' && c.owner !== undefined;
    },
    claim(code: string, owner: { chat: string; sender: string }): boolean {
      const file = loadChannels(home);
      const c = file.channels[name];
      if (c?.kind !== 'telegram' || c.owner !== undefined || c.pairing === undefined) return false;
      const want = Buffer.from(c.pairing.sha256, 'hex');
      const got = Buffer.from(sha256Hex(code.trim().toUpperCase()), 'hex');
      if (!timingSafeEqual(want, got)) return false;
      const { pairing: _used, ...rest } = c;
      file.channels[name] = { ...rest, owner };
      saveChannels(home, file);
      configs = file.channels;
      store.appendAudit({
        actor: `user:${name}:${owner.sender}`,
        action: 'channel.paired',
        subject: name,
        detail: { chat: owner.chat },
      });
      return true;
    },
  });

  for (const [name, cfg] of Object.entries(configs)) {
    const token = store.readSecret(channelSecretName(name));
    const missing = (what: string): void =>
      void broken.push({
        name,
        kind: cfg.kind,
        state: 'failed',
        since: new Date().toISOString(),
        detail: `no ${what} stored`,
        fix: `corral channel add ${cfg.kind} ${name} --replace`,
      });
    if (token === undefined) {
      missing('token');
      continue;
    }
    const clog = log.child({ channel: name });
    switch (cfg.kind) {
      case 'telegram':
        adapters.set(
          name,
          createTelegramChannel({
            name,
            token,
            log: clog,
            pairing: pairing(name),
            ...(cfg.apiRoot === undefined ? {} : { apiRoot: cfg.apiRoot }),
          }),
        );
        break;
      case 'webhook': {
        const w = createWebhookAdapter({
          name,
          secret: token,
          log: clog,
          ...(cfg.url === undefined ? {} : { url: cfg.url }),
        });
        webhooks.set(name, w);
        adapters.set(name, w);
        break;
      }
      case 'slack': {
        const appToken = store.readSecret(channelSecretName(name, 'app'));
        if (appToken === undefined) {
          missing('app token');
          break;
        }
        adapters.set(
          name,
          createSlackChannel({
            name,
            botToken: token,
            appToken,
            log: clog,
            ...(cfg.apiUrl === undefined ? {} : { apiUrl: cfg.apiUrl }),
          }),
        );
        break;
      }
    }
  }

  const abort = new AbortController();
  const running: Promise<void>[] = [];
  const cleanups: (() => void)[] = [];
  const statuses = (): ChannelStatus[] =>
    [...broken, ...[...adapters.values()].map((a) => a.status())].sort((a, b) =>
      a.name.localeCompare(b.name),
    );

  let written = '';
  const writeStatus = (): void => {
    const text = JSON.stringify(
      { at: new Date().toISOString(), pid: process.pid, channels: statuses() },
      null,
      2,
    );
    if (text.replace(/"at": "[^"]*"/, '') === written.replace(/"at": "[^"]*"/, '')) return;
    try {
      fs.mkdirSync(home.runDir, { recursive: true, mode: 0o700 });
      const tmp = `${channelStatusFile(home)}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, text, { mode: 0o600 });
      fs.renameSync(tmp, channelStatusFile(home));
      written = text;
    } catch (err) {
      log.warn('channel status not written', { err: errorMessage(err) });
    }
  };

  /** "typing…" in the chat of each running turn, until it ends. */
  function typingWhileRunning(events: EventBus): () => void {
    const timers = new Map<string, NodeJS.Timeout>();
    const unsubscribe = events.subscribe(({ event: e }) => {
      if (e.type === 'run.started') {
        const m = store.getInbound(e.messageId);
        if (m?.replyTo?.channel !== 'chat') return;
        const adapter = adapters.get(m.replyTo.name);
        if (adapter?.typing === undefined) return;
        const { chat, thread } = m.replyTo;
        const to = thread === undefined ? { chat } : { chat, thread };
        const tick = (): void =>
          void adapter
            .typing?.(to, abort.signal)
            .catch((err: unknown) => log.debug('typing not shown', { err: errorMessage(err) }));
        tick();
        const t = setInterval(tick, TYPING_EVERY_MS);
        t.unref();
        timers.set(e.messageId, t);
      } else if (e.type === 'run.done' || e.type === 'run.failed' || e.type === 'run.requeued') {
        clearInterval(timers.get(e.messageId));
        timers.delete(e.messageId);
      }
    });
    return () => {
      unsubscribe();
      for (const t of timers.values()) clearInterval(t);
    };
  }

  return {
    /** For the outbox: replies addressed to a channel by its name. */
    outbound(): Record<string, OutboxChannel> {
      return Object.fromEntries(adapters);
    },
    /** Paired owners count as known senders of the agents bound to their channel. */
    owners(name: string): string[] {
      const c = configs[name];
      return c?.kind === 'telegram' && c.owner !== undefined ? [c.owner.sender] : [];
    },
    start(sink: ChannelSink, events: EventBus): void {
      for (const a of adapters.values())
        running.push(
          a
            .start(sink, abort.signal)
            .catch((err: unknown) =>
              log.error('channel stopped on an error', { channel: a.name, err: errorMessage(err) }),
            ),
        );
      cleanups.push(typingWhileRunning(events));
      const t = setInterval(writeStatus, STATUS_WRITE_MS);
      t.unref();
      cleanups.push(() => clearInterval(t));
      writeStatus();
      if (adapters.size > 0) log.info('channels started', { channels: [...adapters.keys()] });
    },
    statuses,
    /** POST /v1/channels/webhook/NAME: authenticated by the channel's signature, not the API token. */
    async handleWebhook(name: string, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
      const w = webhooks.get(name);
      if (w === undefined) return false;
      await w.handle(req, res);
      return true;
    },
    async stop(): Promise<void> {
      abort.abort();
      for (const c of cleanups.splice(0)) c();
      await Promise.all(running);
      writeStatus();
    },
  };
}

export type ChannelHost = ReturnType<typeof createChannelHost>;
