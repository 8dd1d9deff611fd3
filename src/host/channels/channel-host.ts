// The host's channels: one adapter per channel in channels.yaml (its token unsealed from the store), started with
// the intake as their sink, registered with the outbox for replies, "typing…" while a turn for their chat runs,
// pairing written back to channels.yaml, and their status written to run/channels.json for `corral doctor`.
// channels.yaml is followed while the host runs (channels-watch.ts): added channels start, removed ones stop,
// changed ones restart, the others keep running; an invalid file changes nothing.
import { createHash, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ChannelSink, ChannelStatus, OutboxChannel } from '../../channels/types.ts';
import type { ChannelConfig } from '../../config/channels.ts';
import { loadChannels, saveChannels } from '../../config/channels.ts';
import type { HomePaths } from '../../config/home.ts';
import type { Store } from '../../store/types.ts';
import { errorMessage } from '../../util/errors.ts';
import type { Logger } from '../../util/log.ts';
import type { EventBus } from '../daemon/events.ts';
import type { BuiltChannel, ChannelRoute } from './adapters.ts';
import { buildChannel, channelFingerprint } from './adapters.ts';
import { watchChannelsFile } from './channels-watch.ts';

/** Telegram shows "typing…" for about 5 s per call. */
const TYPING_EVERY_MS = 4_500;
const STATUS_WRITE_MS = 2_000;

export const channelStatusFile = (home: HomePaths): string => path.join(home.runDir, 'channels.json');

export const sha256Hex = (text: string): string => createHash('sha256').update(text).digest('hex');

/** A channel the host runs: its adapter, and how to stop it (resolves once it finished what was under way). */
interface Running extends BuiltChannel {
  stop(): Promise<void>;
}

export function createChannelHost(deps: { home: HomePaths; store: Store; log: Logger; debounceMs?: number }) {
  const { home, store } = deps;
  const log = deps.log.child({ part: 'channels' });
  const running = new Map<string, Running>();
  const broken = new Map<string, ChannelStatus>();
  /** why channels.yaml was last refused; the channels keep their last good settings meanwhile */
  let invalid: string | undefined;
  let configs: Record<string, ChannelConfig> = {};
  try {
    configs = loadChannels(home).channels;
  } catch (err) {
    invalid = errorMessage(err);
    log.error('channels.yaml is invalid; no channels run', { err: invalid });
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

  const abort = new AbortController();
  const cleanups: (() => void)[] = [];
  let sink: ChannelSink | undefined;
  /** reloads one after another, so a restart never overlaps the next change */
  let applying: Promise<void> = Promise.resolve();

  function launch(name: string, built: BuiltChannel, to: ChannelSink): Running {
    const own = new AbortController();
    const onHostStop = (): void => own.abort();
    if (abort.signal.aborted) own.abort();
    else abort.signal.addEventListener('abort', onHostStop, { once: true });
    const done = built.adapter
      .start(to, own.signal)
      .catch((err: unknown) =>
        log.error('channel stopped on an error', { channel: name, err: errorMessage(err) }),
      )
      .finally(() => abort.signal.removeEventListener('abort', onHostStop));
    return {
      ...built,
      stop: () => {
        own.abort();
        return done;
      },
    };
  }

  /** Builds a channel and, once the host started, starts it; one without credentials is reported instead. */
  function place(name: string, cfg: ChannelConfig): void {
    const built = buildChannel(name, cfg, { store, log, pairing: pairing(name) });
    if (!('adapter' in built)) {
      running.delete(name);
      broken.set(name, built);
      return;
    }
    broken.delete(name);
    running.set(
      name,
      sink === undefined ? { ...built, stop: () => Promise.resolve() } : launch(name, built, sink),
    );
  }

  /**
   * Brings the running channels in line with `next`: removed ones stop (a Telegram webhook is deleted), changed
   * ones stop and start again with their new settings, added ones start, the others are left alone. A stopping
   * channel finishes what it was handing to the host; replies it was sending go on through its old adapter.
   */
  async function apply(next: Record<string, ChannelConfig>): Promise<string[]> {
    configs = next;
    const changed: string[] = [];
    for (const [name, r] of [...running]) {
      const cfg = next[name];
      if (cfg !== undefined && channelFingerprint(name, cfg, store) === r.fingerprint) continue;
      await r.stop();
      if (cfg === undefined) {
        await r.removed?.();
        running.delete(name);
      } else place(name, cfg); // the old adapter stays in the outbox's map until the new one replaces it
      changed.push(name);
    }
    for (const [name, cfg] of Object.entries(next)) {
      if (running.has(name)) continue;
      const before = broken.get(name)?.detail;
      place(name, cfg);
      if (running.has(name) || broken.get(name)?.detail !== before) changed.push(name);
    }
    for (const name of [...broken.keys()]) if (next[name] === undefined) broken.delete(name);
    return changed;
  }

  /** channels.yaml changed (or `corral channel add/rm` ran): one reload at a time, in order. */
  const reload = (): Promise<void> =>
    (applying = applying.then(async () => {
      if (abort.signal.aborted) return;
      let next: Record<string, ChannelConfig>;
      try {
        next = loadChannels(home).channels;
      } catch (err) {
        invalid = errorMessage(err);
        log.error('channels.yaml is invalid; the running channels keep their last good settings', {
          err: invalid,
        });
        writeStatus();
        return;
      }
      invalid = undefined;
      const changed = await apply(next);
      if (changed.length > 0) log.info('channels.yaml reloaded', { changed });
      writeStatus();
    }));

  for (const [name, cfg] of Object.entries(configs)) place(name, cfg);

  const statuses = (): ChannelStatus[] =>
    [
      ...broken.values(),
      ...[...running.values()].map((r): ChannelStatus => {
        const st = r.adapter.status();
        return invalid === undefined
          ? st
          : {
              ...st,
              detail: `channels.yaml is invalid (${invalid.split('\n')[0]}); running with the last good settings`,
              fix: 'fix channels.yaml: the host picks it up when it is saved',
            };
      }),
    ].sort((a, b) => a.name.localeCompare(b.name));

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
        const adapter = running.get(m.replyTo.name)?.adapter;
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
      return Object.fromEntries([...running].map(([name, r]) => [name, r.adapter]));
    },
    /** The adapter replies to channel `name` go through now (it changes when channels.yaml does). */
    outboundTo: (name: string): OutboxChannel | undefined => running.get(name)?.adapter,
    /** Paired owners count as known senders of the agents bound to their channel. */
    owners(name: string): string[] {
      const c = configs[name];
      return c?.kind === 'telegram' && c.owner !== undefined ? [c.owner.sender] : [];
    },
    start(to: ChannelSink, events: EventBus): void {
      sink = to;
      for (const [name, r] of running) running.set(name, launch(name, r, to));
      cleanups.push(
        watchChannelsFile({ home, log, onChange: () => void reload(), debounceMs: deps.debounceMs }),
      );
      cleanups.push(typingWhileRunning(events));
      const t = setInterval(writeStatus, STATUS_WRITE_MS);
      t.unref();
      cleanups.push(() => clearInterval(t));
      writeStatus();
      if (running.size > 0) log.info('channels started', { channels: [...running.keys()] });
    },
    statuses,
    /** Reads channels.yaml again now (the watcher does this on every change); resolves once applied. */
    reload,
    /**
     * POST /v1/channels/KIND/NAME (a webhook channel, or a Telegram channel in webhook mode): authenticated by
     * the channel's own signature or secret, not the API token. Resolves false when no such channel runs.
     */
    async handleWebhook(
      kind: ChannelRoute['kind'],
      name: string,
      req: IncomingMessage,
      res: ServerResponse,
    ): Promise<boolean> {
      const route = running.get(name)?.route;
      if (route?.kind !== kind) return false;
      await route.handle(req, res);
      return true;
    },
    /** Stops every channel (a Telegram webhook stays set: Telegram keeps the updates until the host is back). */
    async stop(): Promise<void> {
      abort.abort();
      for (const c of cleanups.splice(0)) c();
      await applying;
      await Promise.all([...running.values()].map((r) => r.stop()));
      writeStatus();
    },
  };
}

export type ChannelHost = ReturnType<typeof createChannelHost>;
