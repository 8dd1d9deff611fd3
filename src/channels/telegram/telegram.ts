// The Telegram channel through grammY's Api client: long polling (getUpdates with offset and timeout) or a webhook
// (setWebhook with a secret token, updates POSTed to corral up), an update confirmed only after the host committed
// it, pairing by /pair CODE, replies split at 4096 characters, files as documents, "typing…" while a turn runs.
// Errors never escape start(): they show in status() and are retried.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AbortController as ShimAbortController } from 'abort-controller';
import { Api, GrammyError, HttpError, InputFile } from 'grammy';
import type { OutboxRow } from '../../store/daemon-types.ts';
import { errorMessage } from '../../util/errors.ts';
import type { Logger } from '../../util/log.ts';
import type { DeliveryJournal } from '../delivery-journal.ts';
import { memoryJournal, sendParts } from '../delivery-journal.ts';
import { createStatus, sleep } from '../status.ts';
import type { ChannelAdapter, ChannelSink, ChatAddress, InboundMessage } from '../types.ts';
import { parseChatDelivery, PermanentDeliveryError, reconnectDelayMs, splitText } from '../types.ts';
import type { BotIdentity } from './updates.ts';
import { parseUpdate } from './updates.ts';
import { answer, readWebhookUpdate } from './webhook.ts';

export const TELEGRAM_TEXT_LIMIT = 4096;
export const POLL_TIMEOUT_SECONDS = 30;
/** A 429 asking to wait longer than this is handed back to the outbox's own backoff. */
export const MAX_RATE_LIMIT_WAIT_MS = 60_000;
const MAX_RATE_LIMIT_RETRIES = 3;
/** At most one refusal notice per chat in this window, so a stranger cannot make the bot spam. */
const NOTICE_INTERVAL_MS = 60_000;

export const UNPAIRED_NOTICE =
  'This bot is not paired yet. Its operator got a pairing code from `corral channel add telegram`; send /pair CODE.';
export const PAIRED_NOTICE = 'Paired: this chat now owns the bot.';
export const WRONG_CODE_NOTICE = 'That pairing code is not valid.';

export interface TelegramPairing {
  paired(): boolean;
  /** true when `code` is the one-time code, which is used up by this call (the sender becomes the owner) */
  claim(code: string, owner: { chat: string; sender: string }): boolean;
}

export interface TelegramOptions {
  name: string;
  token: string;
  log: Logger;
  pairing: TelegramPairing;
  apiRoot?: string;
  pollTimeoutSeconds?: number;
  /** delay before reconnect number `failures` (tests shorten it) */
  backoff?: (failures: number) => number;
  now?: () => Date;
  /** webhook mode: Telegram POSTs updates to `url` with `secret` in its header; absent: long polling */
  webhook?: { url: string; secret: string };
}

export interface TelegramChannel extends ChannelAdapter {
  bot(): BotIdentity | undefined;
  /** webhook mode: POST /v1/channels/telegram/NAME; answers once the update is committed (or refused) */
  handleWebhook(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Tells Telegram to stop posting to the webhook (the channel was removed); best effort. */
  deleteWebhook(): Promise<void>;
}

/** How long a stopping poller may take to confirm the updates it handled, so a restart does not see them again. */
const CONFIRM_ON_STOP_MS = 5_000;

const TOKEN_FIX =
  'the bot token was rejected (revoked?): get a new one from @BotFather, then run ' +
  '`corral channel add telegram NAME --replace` (a running corral up restarts the channel)';

/**
 * grammY types its signals with the abort-controller shim it depends on: one shim signal per native signal
 * (which are long-lived: the adapter's and the outbox's), aborted with it.
 */
const shims = new WeakMap<AbortSignal, ShimAbortController['signal']>();
function grammySignal(signal: AbortSignal): ShimAbortController['signal'] {
  let shim = shims.get(signal);
  if (shim === undefined) {
    const c = new ShimAbortController();
    if (signal.aborted) c.abort();
    else signal.addEventListener('abort', () => c.abort(), { once: true });
    shim = c.signal;
    shims.set(signal, shim);
  }
  return shim;
}

function retryAfterMs(err: unknown): number | undefined {
  if (!(err instanceof GrammyError) || err.error_code !== 429) return undefined;
  return (err.parameters.retry_after ?? 1) * 1000;
}

const tokenRejected = (err: unknown): boolean =>
  err instanceof GrammyError && (err.error_code === 401 || err.error_code === 404);

export function createTelegramChannel(opts: TelegramOptions): TelegramChannel {
  const { name, log } = opts;
  const api = new Api(opts.token, opts.apiRoot === undefined ? {} : { apiRoot: opts.apiRoot });
  const status = createStatus(name, 'telegram', opts.now);
  const backoff = opts.backoff ?? ((n: number) => reconnectDelayMs(n));
  const pollTimeout = opts.pollTimeoutSeconds ?? POLL_TIMEOUT_SECONDS;
  /** parts of a long reply already sent, by outbox key, so a retry after a 429 does not repeat them */
  const progress = new Map<string, number>();
  const lastNotice = new Map<string, number>();
  let bot: BotIdentity | undefined;
  const connectedDetail = opts.webhook === undefined ? {} : { detail: 'webhook' };
  /** webhook mode, while the webhook is set: where updates go */
  let live: { sink: ChannelSink; signal: AbortSignal; me: BotIdentity } | undefined;

  /** One API call, waiting out short 429s (retry_after) and trying again. */
  async function call<T>(fn: () => Promise<T>, signal: AbortSignal): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const wait = retryAfterMs(err);
        if (
          wait === undefined ||
          wait > MAX_RATE_LIMIT_WAIT_MS ||
          attempt >= MAX_RATE_LIMIT_RETRIES ||
          signal.aborted
        )
          throw err;
        log.info('telegram rate limit; waiting', { channel: name, ms: wait });
        await sleep(wait, signal);
      }
    }
  }

  async function notifyNow(m: InboundMessage, text: string, signal: AbortSignal): Promise<void> {
    const now = Date.now();
    if (now - (lastNotice.get(m.chat) ?? 0) < NOTICE_INTERVAL_MS) return;
    lastNotice.set(m.chat, now);
    await call(
      () =>
        api.sendMessage(
          m.chat,
          text,
          {
            reply_parameters: { message_id: Number(m.platformId), allow_sending_without_reply: true },
            ...(m.thread === undefined ? {} : { message_thread_id: Number(m.thread) }),
          },
          grammySignal(signal),
        ),
      signal,
    ).catch((err: unknown) =>
      log.warn('telegram notice not sent', { channel: name, err: errorMessage(err) }),
    );
  }

  /** Handles one update; throws only when the host could not take a message (it is then offered again). */
  async function handle(
    raw: unknown,
    me: BotIdentity,
    sink: ChannelSink,
    signal: AbortSignal,
    /** webhook mode: notices go out after the answer, so Telegram is never kept waiting on a sendMessage */
    background = false,
  ): Promise<void> {
    const notify = background
      ? (m: InboundMessage, text: string, s: AbortSignal): Promise<void> => (
          void notifyNow(m, text, s),
          Promise.resolve()
        )
      : notifyNow;
    const u = parseUpdate(raw, name, me);
    switch (u.kind) {
      case 'malformed':
        log.warn('telegram update malformed; skipped', { channel: name, reason: u.reason });
        return;
      case 'skip':
        log.debug('telegram update skipped', { channel: name, reason: u.reason });
        return;
      case 'pair': {
        const ok =
          !opts.pairing.paired() &&
          opts.pairing.claim(u.code, { chat: u.message.chat, sender: u.message.sender.id });
        log.info(ok ? 'telegram channel paired' : 'telegram pairing refused', {
          channel: name,
          chat: u.message.chat,
        });
        lastNotice.delete(u.message.chat);
        return notify(u.message, ok ? PAIRED_NOTICE : WRONG_CODE_NOTICE, signal);
      }
      case 'message': {
        const m = u.message;
        const addressed = m.direct || m.mentioned || m.replyToBot;
        if (!opts.pairing.paired()) {
          if (addressed) await notify(m, UNPAIRED_NOTICE, signal);
          return;
        }
        const r = await sink.receive(m);
        if (r.status === 'refused' && r.notice !== undefined && addressed) await notify(m, r.notice, signal);
        return;
      }
    }
  }

  /** Reports a failed call to the Bot API and says how long to wait before the next try. */
  function failed(err: unknown, failures: number, what: string): number {
    const wait = retryAfterMs(err) ?? backoff(failures);
    if (tokenRejected(err)) {
      bot = undefined;
      status.set('failed', { detail: 'token rejected by Telegram (401)', fix: TOKEN_FIX });
      log.error('telegram token rejected', { channel: name });
    } else {
      const detail = err instanceof HttpError ? 'cannot reach the Telegram Bot API' : errorMessage(err);
      status.set('retrying', { detail });
      log.warn(`telegram ${what} failed; retrying`, { channel: name, err: errorMessage(err), ms: wait });
    }
    return wait;
  }

  async function identify(signal: AbortSignal): Promise<BotIdentity> {
    if (bot === undefined) {
      const u = await api.getMe(grammySignal(signal));
      bot = { id: u.id, username: u.username };
    }
    return bot;
  }

  /** Webhook mode: (re)sets the webhook, then takes updates through handleWebhook until `signal` aborts. */
  async function listen(sink: ChannelSink, signal: AbortSignal, hook: { url: string; secret: string }) {
    let failures = 0;
    while (!signal.aborted) {
      try {
        const me = await identify(signal);
        await api.setWebhook(
          hook.url,
          { secret_token: hook.secret, allowed_updates: ['message'] },
          grammySignal(signal),
        );
        log.info('telegram webhook set', { channel: name, bot: me.username, url: hook.url });
        live = { sink, signal, me };
        status.set('connected', connectedDetail);
        await new Promise<void>((resolve) =>
          signal.addEventListener('abort', () => resolve(), { once: true }),
        );
      } catch (err) {
        if (signal.aborted) break;
        await sleep(failed(err, ++failures, 'setWebhook'), signal);
      }
    }
    live = undefined;
  }

  async function poll(sink: ChannelSink, signal: AbortSignal): Promise<void> {
    let offset = 0;
    let confirmed = 0;
    let failures = 0;
    while (!signal.aborted) {
      try {
        const fresh = bot === undefined;
        const me = await identify(signal);
        if (fresh) status.set('connected');
        const asked = offset;
        const updates = await api.getUpdates(
          { offset: asked, timeout: pollTimeout, allowed_updates: ['message'] },
          grammySignal(signal),
        );
        confirmed = asked;
        if (failures > 0 || status.get().state !== 'connected')
          log.info('telegram connected', { channel: name, bot: me.username });
        failures = 0;
        status.set('connected');
        for (const update of updates) {
          await handle(update, me, sink, signal);
          offset = update.update_id + 1; // confirmed with the next getUpdates, after the host committed it
        }
      } catch (err) {
        if (signal.aborted) break;
        if (err instanceof GrammyError && err.error_code === 409 && /webhook/i.test(err.description)) {
          // switched back from webhook mode: Telegram serves getUpdates only once the webhook is gone
          log.info('telegram webhook still set; deleting it to poll', { channel: name });
          await api.deleteWebhook({}, grammySignal(signal)).catch(() => undefined);
        }
        await sleep(failed(err, ++failures, 'poll'), signal);
      }
    }
    if (offset > confirmed) await confirm(offset);
  }

  /** Confirms updates before `offset` (handled, but not yet confirmed by a next poll) while stopping. */
  async function confirm(offset: number): Promise<void> {
    const t = new AbortController();
    const timer = setTimeout(() => t.abort(), CONFIRM_ON_STOP_MS);
    try {
      await api.getUpdates({ offset, limit: 1, timeout: 0 }, grammySignal(t.signal));
    } catch (err) {
      log.warn('telegram updates not confirmed on stop; they may come again', {
        channel: name,
        err: errorMessage(err),
      });
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    kind: 'telegram',
    name,
    bot: () => bot,
    status: () => status.get(),
    async start(sink, signal) {
      if (opts.webhook === undefined) await poll(sink, signal);
      else await listen(sink, signal, opts.webhook);
      status.set('stopped');
    },
    async handleWebhook(req, res) {
      const hook = opts.webhook;
      if (hook === undefined) return answer(res, 404, { error: 'this channel polls; it has no webhook' });
      const r = await readWebhookUpdate(req, hook.secret);
      if (!r.ok) {
        log.warn('telegram webhook request refused', { channel: name, status: r.status, reason: r.error });
        return answer(res, r.status, { error: r.error });
      }
      const at = live;
      if (at === undefined) return answer(res, 503, { error: 'the channel is not running; retry' });
      try {
        await handle(r.update, at.me, at.sink, at.signal, true);
        answer(res, 200);
      } catch (err) {
        // the host cannot take it now (it is stopping): Telegram offers it again
        log.warn('telegram update not taken', { channel: name, err: errorMessage(err) });
        answer(res, 503, { error: 'not taken now; retry' });
      }
    },
    async deleteWebhook() {
      const t = new AbortController();
      const timer = setTimeout(() => t.abort(), CONFIRM_ON_STOP_MS);
      try {
        await api.deleteWebhook({}, grammySignal(t.signal));
        log.info('telegram webhook deleted', { channel: name });
      } catch (err) {
        log.warn('telegram webhook not deleted', { channel: name, err: errorMessage(err) });
      } finally {
        clearTimeout(timer);
      }
    },
    async deliver(item: OutboxRow, signal: AbortSignal, journal?: DeliveryJournal) {
      const d = parseChatDelivery(item);
      const parts = splitText(d.text, TELEGRAM_TEXT_LIMIT).filter((p) => p.length > 0);
      const thread = d.to.thread === undefined ? {} : { message_thread_id: Number(d.to.thread) };
      const steps: (() => Promise<unknown>)[] = [
        ...parts.map(
          (text, i) => () =>
            api.sendMessage(
              d.to.chat,
              text,
              {
                ...thread,
                ...(i === 0 && d.to.replyTo !== undefined
                  ? {
                      reply_parameters: {
                        message_id: Number(d.to.replyTo),
                        allow_sending_without_reply: true,
                      },
                    }
                  : {}),
              },
              grammySignal(signal),
            ),
        ),
        ...d.files.map(
          (f) => () =>
            api.sendDocument(
              d.to.chat,
              new InputFile(Buffer.from(f.content, 'base64'), f.name),
              { ...thread, ...(f.caption === undefined ? {} : { caption: f.caption.slice(0, 1024) }) },
              grammySignal(signal),
            ),
        ),
      ];
      try {
        // sendMessage has no idempotency key: a part in doubt after a crash goes out again (delivery-journal.ts)
        const calls = steps.map((step) => () => call(step, signal));
        await sendParts(calls, journal ?? memoryJournal(progress, item.key), signal);
        progress.delete(item.key);
        // in webhook mode deliveries are the only calls that show the Bot API is reachable again
        if (status.get().state === 'retrying') status.set('connected', connectedDetail);
      } catch (err) {
        if (err instanceof GrammyError && (err.error_code === 400 || err.error_code === 403)) {
          progress.delete(item.key);
          // the chat is gone, the bot was removed from the group or blocked: it will never take this
          throw new PermanentDeliveryError(`telegram refused the reply: ${err.description}`);
        }
        if (tokenRejected(err))
          status.set('failed', { detail: 'token rejected by Telegram (401)', fix: TOKEN_FIX });
        else if (err instanceof HttpError)
          status.set('retrying', { detail: 'cannot reach the Telegram Bot API' });
        throw err;
      }
    },
    async typing(to: ChatAddress, signal: AbortSignal) {
      await api.sendChatAction(
        to.chat,
        'typing',
        to.thread === undefined ? {} : { message_thread_id: Number(to.thread) },
        grammySignal(signal),
      );
    },
  };
}
