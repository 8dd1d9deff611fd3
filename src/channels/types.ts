// The channel port: an adapter (Telegram, Slack, webhook, …) carries platform messages into the host's intake
// and the host's outbox items back to the platform. One small required core; typing is an optional capability.
import { z } from 'zod';
import type { OutboxRow } from '../store/daemon-types.ts';
import type { DeliveryJournal } from './delivery-journal.ts';

export interface OutboxChannel {
  /**
   * Resolves once the receiver accepted the item; throws to retry, or a PermanentDeliveryError to give up. An
   * item sent in parts resumes after the parts `journal` says were confirmed (the outbox's, kept in the store).
   */
  deliver(item: OutboxRow, signal: AbortSignal, journal?: DeliveryJournal): Promise<void>;
}

/** The receiver will never take this item (a 4xx, an unknown channel): no retry. */
export class PermanentDeliveryError extends Error {}

/** Adapter kinds corral knows; a configured channel has one kind and its own name. */
export const CHANNEL_KINDS = ['telegram', 'webhook', 'slack'] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number];

/** One platform message as an adapter hands it to the host, already parsed and checked at the edge. */
export interface InboundMessage {
  /** the configured channel's name (`corral channel add KIND NAME`), not its kind */
  channel: string;
  /** the platform's conversation: a Telegram chat id, a Slack channel id, a webhook's `chat` field */
  chat: string;
  /** a thread within the chat (Slack thread_ts, Telegram topic); absent: the chat itself is the thread */
  thread?: string;
  sender: { id: string; display: string };
  text: string;
  /** a one-to-one conversation with the bot (Telegram private chat, Slack DM) */
  direct: boolean;
  /** the bot was mentioned by name in the text */
  mentioned: boolean;
  /** the message answers one of the bot's own messages */
  replyToBot: boolean;
  /** the platform's id of this message (deduplication, replying to it) */
  platformId: string;
}

/** What the host did with an inbound message; the adapter acknowledges the platform only after this. */
export type IntakeResult =
  | { status: 'queued'; messageIds: string[] }
  /** not for any agent (no binding, no trigger): nothing to tell the sender */
  | { status: 'ignored'; reason: string }
  /** refused (unknown sender, unpaired chat, held for approval): `notice` is said politely to the sender */
  | { status: 'refused'; reason: string; notice?: string };

/** The host's side of an adapter: where inbound messages go. */
export interface ChannelSink {
  /**
   * Commits the message for every bound agent whose trigger it meets. Never throws for bad input (that is
   * `ignored` or `refused`); throws only when the host cannot take it now (it is stopping), so the adapter
   * does not acknowledge it and the platform offers it again.
   */
  receive(m: InboundMessage): Promise<IntakeResult>;
}

/** A channel's health for `corral doctor` and the dashboard. */
export type ChannelState = 'starting' | 'connected' | 'retrying' | 'failed' | 'stopped';

export interface ChannelStatus {
  name: string;
  kind: ChannelKind;
  state: ChannelState;
  /** ISO time the channel entered this state */
  since: string;
  /** e.g. the last error while retrying */
  detail?: string;
  /** what the operator should do (e.g. a revoked token) */
  fix?: string;
}

/** Where a reply to a chat message goes: stored with the inbound message (its ReplyTarget). */
export const ChatAddress = z
  .object({
    chat: z.string().min(1).max(256),
    thread: z.string().min(1).max(256).optional(),
    /** the platform id of the message being answered */
    replyTo: z.string().min(1).max(256).optional(),
  })
  .strict();
export type ChatAddress = z.infer<typeof ChatAddress>;

/**
 * A file the agent sent for delivery (send_file): its content crossed the boundary, never a path. The host
 * stores it with the reply; the outbox puts the content in just before each delivery (src/host/daemon/outbox-files.ts).
 */
export const OutgoingFile = z
  .object({
    /** its id in the store (GET /v1/messages/ID/files/FILE) */
    id: z.string().optional(),
    /** a safe base name (no path, no control characters) */
    name: z.string().min(1).max(255),
    /** base64 */
    content: z.string(),
    mime: z.string().optional(),
    size: z.number().int().nonnegative().optional(),
    /** hex sha256 of the content */
    sha256: z.string().optional(),
    /** a short text the agent gave to show with it */
    caption: z.string().optional(),
  })
  .strict();
export type OutgoingFile = z.infer<typeof OutgoingFile>;

/**
 * The payload of an outbox item addressed to a chat channel (item.channel = the channel's name,
 * item.target = the chat). The whole reply in one item: the adapter splits it to the platform's limit.
 */
export const ChatDelivery = z.object({
  to: ChatAddress,
  text: z.string(),
  files: z.array(OutgoingFile).default([]),
  status: z.enum(['done', 'failed']).optional(),
});
export type ChatDelivery = z.infer<typeof ChatDelivery>;

/** An outbox item as a chat adapter reads it; a malformed one can never be delivered. */
export function parseChatDelivery(item: OutboxRow): ChatDelivery {
  const parsed = ChatDelivery.safeParse(item.payload);
  if (!parsed.success)
    throw new PermanentDeliveryError(
      `outbox item ${item.key} is not a chat delivery: ${parsed.error.message}`,
    );
  return parsed.data;
}

/**
 * A running channel. `start` connects (long polling, a socket, a route) and keeps reconnecting with backoff
 * until `signal` aborts; it resolves once the adapter has stopped. It must never throw for a platform error:
 * it reports it in status() and retries (or stays `failed` when only the operator can fix it, e.g. a revoked
 * token). `deliver` sends one outbox item (splitting long text), throwing to have the outbox retry it.
 */
export interface ChannelAdapter extends OutboxChannel {
  readonly kind: ChannelKind;
  readonly name: string;
  start(sink: ChannelSink, signal: AbortSignal): Promise<void>;
  status(): ChannelStatus;
  /** Optional: shows that a turn for this chat is running (Telegram's "typing…"); best effort. */
  typing?(to: ChatAddress, signal: AbortSignal): Promise<void>;
}

/** Backoff between reconnects: 1 s doubling to 60 s, with up to 20 % jitter. */
export const RECONNECT_FIRST_MS = 1_000;
export const RECONNECT_MAX_MS = 60_000;
export function reconnectDelayMs(failures: number, random: () => number = Math.random): number {
  const base = Math.min(RECONNECT_MAX_MS, RECONNECT_FIRST_MS * 2 ** Math.max(0, failures - 1));
  return Math.round(base * (1 + 0.2 * random()));
}

/** Splits text into chunks of at most `limit` UTF-16 units, at a paragraph, line, sentence or word end if one
 * lies in the second half of the window, else hard (never inside a surrogate pair). */
export function splitText(text: string, limit: number): string[] {
  const out: string[] = [];
  let rest = text;
  while (rest.length > limit) {
    const window = rest.slice(0, limit);
    let cut = limit;
    for (const b of ['\n\n', '\n', '. ', ' ']) {
      const i = window.lastIndexOf(b);
      if (i > limit / 2) {
        cut = i + b.length;
        break;
      }
    }
    const code = rest.charCodeAt(cut - 1);
    if (cut === limit && cut > 1 && code >= 0xd800 && code <= 0xdbff) cut -= 1;
    const chunk = rest.slice(0, cut).trimEnd();
    if (chunk.length > 0) out.push(chunk);
    rest = rest.slice(cut).replace(/^\s+/, '');
  }
  if (rest.length > 0 || out.length === 0) out.push(rest);
  return out;
}
