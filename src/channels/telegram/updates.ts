// Telegram updates parsed at the edge: only text messages (and captions) from people become inbound messages;
// everything else is skipped. `/pair CODE` is recognised here so the adapter can pair before any binding exists.
import { z } from 'zod';
import type { InboundMessage } from '../types.ts';

const User = z.object({
  id: z.number().int(),
  is_bot: z.boolean(),
  first_name: z.string(),
  username: z.string().optional(),
});
const Entity = z.object({
  type: z.string(),
  offset: z.number().int(),
  length: z.number().int(),
  user: User.optional(),
});

const Message = z.object({
  message_id: z.number().int(),
  chat: z.object({ id: z.number().int(), type: z.enum(['private', 'group', 'supergroup', 'channel']) }),
  from: User.optional(),
  text: z.string().optional(),
  caption: z.string().optional(),
  entities: z.array(Entity).optional(),
  caption_entities: z.array(Entity).optional(),
  message_thread_id: z.number().int().optional(),
  is_topic_message: z.boolean().optional(),
  reply_to_message: z.object({ from: User.optional() }).optional(),
});

const Update = z.object({ update_id: z.number().int() }).and(z.object({ message: Message.optional() }));

export interface BotIdentity {
  id: number;
  username: string;
}

export type ParsedUpdate =
  | { kind: 'message'; updateId: number; message: InboundMessage }
  | { kind: 'pair'; updateId: number; code: string; message: InboundMessage }
  /** nothing for corral: an edit, a sticker, a bot's message, a channel post */
  | { kind: 'skip'; updateId: number; reason: string }
  | { kind: 'malformed'; updateId?: number; reason: string };

const PAIR = /^\/pair(?:@([A-Za-z0-9_]+))?\s+(\S+)\s*$/;

function mentions(text: string, entities: z.infer<typeof Entity>[], bot: BotIdentity): boolean {
  const handle = `@${bot.username}`.toLowerCase();
  for (const e of entities) {
    if (e.type === 'mention' && text.slice(e.offset, e.offset + e.length).toLowerCase() === handle)
      return true;
    if (e.type === 'text_mention' && e.user?.id === bot.id) return true;
  }
  return false;
}

/** One update as corral sees it; never throws. */
export function parseUpdate(raw: unknown, channel: string, bot: BotIdentity): ParsedUpdate {
  const parsed = Update.safeParse(raw);
  if (!parsed.success) {
    const id = z.object({ update_id: z.number().int() }).safeParse(raw);
    return {
      kind: 'malformed',
      ...(id.success ? { updateId: id.data.update_id } : {}),
      reason: parsed.error.issues[0]?.message ?? 'invalid',
    };
  }
  const { update_id: updateId, message: msg } = parsed.data;
  if (msg === undefined) return { kind: 'skip', updateId, reason: 'not a new message' };
  if (msg.from === undefined || msg.from.is_bot)
    return { kind: 'skip', updateId, reason: 'not from a person' };
  if (msg.chat.type === 'channel') return { kind: 'skip', updateId, reason: 'a channel post' };
  const text = msg.text ?? msg.caption;
  if (text === undefined || text.trim() === '') return { kind: 'skip', updateId, reason: 'no text' };
  const entities = msg.entities ?? msg.caption_entities ?? [];
  const display =
    msg.from.username === undefined ? msg.from.first_name : `${msg.from.first_name} (@${msg.from.username})`;
  const message: InboundMessage = {
    channel,
    chat: String(msg.chat.id),
    ...(msg.is_topic_message === true && msg.message_thread_id !== undefined
      ? { thread: String(msg.message_thread_id) }
      : {}),
    sender: { id: String(msg.from.id), display },
    text,
    direct: msg.chat.type === 'private',
    mentioned: mentions(text, entities, bot),
    replyToBot: msg.reply_to_message?.from?.id === bot.id,
    platformId: String(msg.message_id),
  };
  const pair = PAIR.exec(text);
  if (pair !== null && (pair[1] === undefined || pair[1].toLowerCase() === bot.username.toLowerCase()))
    return { kind: 'pair', updateId, code: pair[2] ?? '', message };
  return { kind: 'message', updateId, message };
}
