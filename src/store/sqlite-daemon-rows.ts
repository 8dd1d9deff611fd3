// zod schemas for the daemon's rows (inbound queue, outbox, tasks); like sqlite-rows.ts, nothing read is cast.
import { z } from 'zod';
import type { InboundRow, OutboxRow, ReplyTarget, TaskRow } from './daemon-types.ts';
import { jsonText } from './sqlite-rows.ts';

const int = z.number().int();

export const ReplyTargetSchema = z.discriminatedUnion('channel', [
  z.object({ channel: z.literal('webhook'), url: z.string() }),
  z.object({ channel: z.literal('agent'), agent: z.string(), sessionKey: z.string() }),
  z.object({
    channel: z.literal('chat'),
    name: z.string(),
    chat: z.string(),
    thread: z.string().optional(),
    replyTo: z.string().optional(),
  }),
]);

export const InboundDb = z
  .object({
    id: z.string(),
    agent: z.string(),
    session_id: z.string(),
    session_key: z.string(),
    kind: z.enum(['user', 'task', 'agent']),
    source: z.string().nullable(),
    text: z.string(),
    status: z.enum(['received', 'running', 'done', 'failed']),
    error: z.string().nullable(),
    attempts: int,
    queue_seq: int.nullable(),
    reply_to: jsonText(ReplyTargetSchema).nullable(),
    hops: int,
    reply_id: z.string().nullable(),
    reply: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string().nullable(),
  })
  .transform((r): InboundRow => ({
    id: r.id,
    agent: r.agent,
    sessionId: r.session_id,
    sessionKey: r.session_key,
    kind: r.kind,
    source: r.source,
    text: r.text,
    status: r.status,
    error: r.error,
    attempts: r.attempts,
    queueSeq: r.queue_seq,
    replyTo: r.reply_to satisfies ReplyTarget | null,
    hops: r.hops,
    replyId: r.reply_id,
    reply: r.reply,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  }));

export const OutboxDb = z
  .object({
    key: z.string(),
    message_id: z.string(),
    channel: z.string(),
    target: z.string(),
    payload: jsonText(z.record(z.string(), z.unknown())),
    status: z.enum(['pending', 'delivered', 'failed']),
    attempts: int,
    next_attempt_at: z.string(),
    last_error: z.string().nullable(),
    created_at: z.string(),
    delivered_at: z.string().nullable(),
  })
  .transform((r): OutboxRow => ({
    key: r.key,
    messageId: r.message_id,
    channel: r.channel,
    target: r.target,
    payload: r.payload,
    status: r.status,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
    lastError: r.last_error,
    createdAt: r.created_at,
    deliveredAt: r.delivered_at,
  }));

export const TaskDb = z
  .object({
    id: z.string(),
    agent: z.string(),
    prompt: z.string(),
    kind: z.enum(['cron', 'every', 'at']),
    schedule: z.string(),
    tz: z.string().nullable(),
    missed: z.enum(['run_once', 'skip']),
    paused: z.union([z.literal(0), z.literal(1)]),
    next_run_at: z.string().nullable(),
    last_run_at: z.string().nullable(),
    last_message_id: z.string().nullable(),
    created_by: z.string(),
    created_at: z.string(),
    source: z.enum(['added', 'file']),
    name: z.string().nullable(),
  })
  .transform((r): TaskRow => ({
    id: r.id,
    agent: r.agent,
    prompt: r.prompt,
    kind: r.kind,
    schedule: r.schedule,
    tz: r.tz,
    missed: r.missed,
    paused: r.paused === 1,
    nextRunAt: r.next_run_at,
    lastRunAt: r.last_run_at,
    lastMessageId: r.last_message_id,
    createdBy: r.created_by,
    createdAt: r.created_at,
    source: r.source,
    name: r.name,
  }));

export const NextAt = z.object({ at: z.string().nullable() });
