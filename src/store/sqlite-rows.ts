// zod schemas that turn raw SQLite rows into the store's row types; nothing read from the file is cast.
// A row that does not parse means the file was damaged or edited outside corral: store_corrupt.
import { z } from 'zod';
import { ChatMessage, Usage } from '../protocol/transcript.ts';
import { CorralError } from '../util/errors.ts';
import type {
  AgentRow,
  AuditEntry,
  MessageRow,
  RunRow,
  SecretBinding,
  SecretMeta,
  SessionRow,
  ToolCallRow,
  UsageRow,
  UsageTotal,
} from './types.ts';
import type { Sealed } from './secret-box.ts';

/** A TEXT column holding JSON, parsed and then checked against `schema`. */
export function jsonText<T extends z.core.$ZodType>(schema: T) {
  return z
    .string()
    .transform((text, ctx): unknown => {
      try {
        const value: unknown = JSON.parse(text);
        return value;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'not valid JSON' });
        return z.NEVER;
      }
    })
    .pipe(schema);
}

const JsonObject = z.record(z.string(), z.unknown());
const int = z.number().int();

export const AgentDb = z
  .object({ id: int, name: z.string(), created_at: z.string() })
  .transform((r): AgentRow => ({ id: r.id, name: r.name, createdAt: r.created_at }));

export const SessionDb = z
  .object({ id: z.string(), agent: z.string(), key: z.string(), created_at: z.string() })
  .transform((r): SessionRow => ({ id: r.id, agent: r.agent, key: r.key, createdAt: r.created_at }));

export const MessageDb = z
  .object({
    id: z.string(),
    session_id: z.string(),
    role: z.enum(['user', 'assistant']),
    text: z.string(),
    status: z.enum(['received', 'running', 'done', 'failed']),
    error: z.string().nullable(),
    created_at: z.string(),
  })
  .transform((r): MessageRow => ({
    id: r.id,
    sessionId: r.session_id,
    role: r.role,
    text: r.text,
    status: r.status,
    error: r.error,
    createdAt: r.created_at,
  }));

export const TranscriptDb = z.object({ json: jsonText(ChatMessage) }).transform((r): ChatMessage => r.json);

export const RunDb = z
  .object({
    id: z.string(),
    session_id: z.string(),
    message_id: z.string(),
    status: z.enum(['running', 'done', 'failed', 'cancelled']),
    stop_reason: z.string().nullable(),
    error: z.string().nullable(),
    started_at: z.string(),
    ended_at: z.string().nullable(),
  })
  .transform((r): RunRow => ({
    id: r.id,
    sessionId: r.session_id,
    messageId: r.message_id,
    status: r.status,
    stopReason: r.stop_reason,
    error: r.error,
    startedAt: r.started_at,
    endedAt: r.ended_at,
  }));

export const ToolCallDb = z
  .object({
    id: z.string(),
    run_id: z.string(),
    name: z.string(),
    input: jsonText(JsonObject),
    output: z.string().nullable(),
    is_error: z.union([z.literal(0), z.literal(1)]),
    duration_ms: int.nullable(),
  })
  .transform((r): ToolCallRow => ({
    id: r.id,
    runId: r.run_id,
    name: r.name,
    input: r.input,
    output: r.output,
    isError: r.is_error === 1,
    durationMs: r.duration_ms,
  }));

export const UsageDb = z
  .object({
    agent: z.string(),
    session_id: z.string().nullable(),
    run_id: z.string().nullable(),
    provider: z.string(),
    model: z.string(),
    input_tokens: int,
    output_tokens: int,
    cache_read_tokens: int,
    cache_write_tokens: int,
    created_at: z.string(),
  })
  .transform((r): UsageRow => ({
    agent: r.agent,
    sessionId: r.session_id,
    runId: r.run_id,
    provider: r.provider,
    model: r.model,
    usage: Usage.parse({
      inputTokens: r.input_tokens,
      outputTokens: r.output_tokens,
      cacheReadTokens: r.cache_read_tokens,
      cacheWriteTokens: r.cache_write_tokens,
    }),
    createdAt: r.created_at,
  }));

export const UsageTotalDb = z
  .object({
    agent: z.string(),
    provider: z.string(),
    model: z.string(),
    calls: int,
    input_tokens: int,
    output_tokens: int,
    cache_read_tokens: int,
    cache_write_tokens: int,
  })
  .transform((r): UsageTotal => ({
    agent: r.agent,
    provider: r.provider,
    model: r.model,
    calls: r.calls,
    usage: {
      inputTokens: r.input_tokens,
      outputTokens: r.output_tokens,
      cacheReadTokens: r.cache_read_tokens,
      cacheWriteTokens: r.cache_write_tokens,
    },
  }));

export const SecretBindingDb = z
  .object({
    name: z.string(),
    hosts: jsonText(z.array(z.string())),
    header: z.string().nullable(),
    updated_at: z.string(),
  })
  .transform((r): SecretBinding => ({
    name: r.name,
    hosts: r.hosts,
    header: r.header,
    updatedAt: r.updated_at,
  }));

export const SecretMetaDb = z
  .object({ name: z.string(), created_at: z.string(), updated_at: z.string() })
  .transform((r): SecretMeta => ({ name: r.name, createdAt: r.created_at, updatedAt: r.updated_at }));

const Blob = z.instanceof(Buffer);
export const SealedDb = z
  .object({ nonce: Blob, ciphertext: Blob, tag: Blob })
  .transform((r): Sealed => ({ nonce: r.nonce, ciphertext: r.ciphertext, tag: r.tag }));

export const AuditDb = z
  .object({
    seq: int,
    at: z.string(),
    actor: z.string(),
    action: z.string(),
    subject: z.string(),
    detail: jsonText(JsonObject),
    prev_hash: z.string(),
    hash: z.string(),
  })
  .transform((r): AuditEntry => ({
    seq: r.seq,
    at: r.at,
    actor: r.actor,
    action: r.action,
    subject: r.subject,
    detail: r.detail,
    prevHash: r.prev_hash,
    hash: r.hash,
  }));

/** Parses one row or throws store_corrupt naming the table. */
export function parseRow<T extends z.ZodType>(schema: T, row: unknown, table: string): z.output<T> {
  const result = schema.safeParse(row);
  if (result.success) return result.data;
  throw new CorralError(
    'store_corrupt',
    `a row in table "${table}" does not have the expected shape: ${result.error.issues[0]?.message ?? 'unknown'}`,
    'the database was changed outside corral; restore it from a backup',
    { cause: result.error },
  );
}
