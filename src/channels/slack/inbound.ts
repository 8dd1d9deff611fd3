// Slack message and app_mention events, checked at the edge and turned into the host's InboundMessage.
// Threads are sessions: a DM is one conversation until someone opens a thread; in a channel every top-level
// message starts a thread of its own, so the reply goes under it and the thread's later messages join it.
import { z } from 'zod';
import type { InboundMessage } from '../types.ts';

/** Message subtypes a person writes; edits, deletions, joins, bot posts and the like are not turns. */
const PERSON_SUBTYPES = new Set(['file_share', 'thread_broadcast']);

const SlackMessageEvent = z.object({
  type: z.enum(['message', 'app_mention']),
  subtype: z.string().optional(),
  channel: z.string().min(1).max(64),
  channel_type: z.string().optional(),
  user: z.string().min(1).max(64).optional(),
  bot_id: z.string().optional(),
  text: z.string().max(100_000).default(''),
  ts: z.string().min(1).max(32),
  thread_ts: z.string().min(1).max(32).optional(),
  parent_user_id: z.string().optional(),
});

export interface BotIdentity {
  userId: string;
  botId: string;
}

export type InboundParse =
  | { ok: true; message: InboundMessage }
  /** not a turn: malformed (worth a warning), or not from a person (edits, bots, the bot itself) */
  | { ok: false; reason: string; malformed?: true };

/**
 * Reads one event. `botThreads` holds "chat/thread" keys of threads the bot has answered in, so a later
 * message there counts as a reply to the bot.
 */
export function parseSlackEvent(
  raw: unknown,
  channelName: string,
  bot: BotIdentity,
  botThreads: ReadonlySet<string>,
): InboundParse {
  const parsed = SlackMessageEvent.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, malformed: true, reason: `${issue?.path.join('.') ?? ''}: ${issue?.message ?? ''}` };
  }
  const e = parsed.data;
  if (e.subtype !== undefined && !PERSON_SUBTYPES.has(e.subtype))
    return { ok: false, reason: `subtype ${e.subtype}` };
  if (e.bot_id !== undefined || e.user === undefined) return { ok: false, reason: 'from a bot' };
  if (e.user === bot.userId) return { ok: false, reason: 'own message' };
  const direct = e.channel_type === 'im' || (e.channel_type === undefined && e.channel.startsWith('D'));
  const mentionTag = `<@${bot.userId}>`;
  const mentioned = e.type === 'app_mention' || e.text.includes(mentionTag);
  const thread = e.thread_ts ?? (direct ? undefined : e.ts);
  const replyToBot =
    e.thread_ts !== undefined &&
    (e.parent_user_id === bot.userId || botThreads.has(`${e.channel}/${e.thread_ts}`));
  return {
    ok: true,
    message: {
      channel: channelName,
      chat: e.channel,
      ...(thread === undefined ? {} : { thread }),
      sender: { id: e.user, display: e.user },
      text: e.text.split(mentionTag).join('').trim(),
      direct,
      mentioned,
      replyToBot,
      platformId: `${e.channel}/${e.ts}`,
    },
  };
}
