// The persistence port. The host is its only writer; SQLite implements it today, Postgres later.
import type { ChainRecord } from '../audit/chain.ts';
import type { ChatMessage, Usage } from '../protocol/transcript.ts';
import type { ApprovalStore } from './approval-types.ts';
import type { OutboxStore, QueueStore, TaskStore } from './daemon-types.ts';

export type MessageStatus = 'received' | 'running' | 'done' | 'failed';
export type RunStatus = 'running' | 'done' | 'failed' | 'cancelled';

export interface AgentRow {
  id: number;
  name: string;
  createdAt: string;
}
export interface SessionRow {
  id: string;
  agent: string;
  key: string;
  createdAt: string;
}
export interface MessageRow {
  id: string;
  sessionId: string;
  role: 'user' | 'assistant';
  /** plain text of the inbound or final reply message */
  text: string;
  status: MessageStatus;
  error: string | null;
  createdAt: string;
}
export interface RunRow {
  id: string;
  sessionId: string;
  messageId: string;
  status: RunStatus;
  stopReason: string | null;
  error: string | null;
  startedAt: string;
  endedAt: string | null;
}
export interface ToolCallRow {
  id: string;
  runId: string;
  name: string;
  input: Record<string, unknown>;
  output: string | null;
  isError: boolean;
  durationMs: number | null;
}
export interface UsageRow {
  agent: string;
  /** taken from the run when the caller does not name it */
  sessionId: string | null;
  runId: string | null;
  provider: string;
  model: string;
  usage: Usage;
  createdAt: string;
}
/** Token totals of one (agent, provider, model) over a time window; cost is priced by the caller. */
export interface UsageTotal {
  agent: string;
  provider: string;
  model: string;
  /** model calls that reported usage */
  calls: number;
  usage: Usage;
}
/** A time window over usage: `since` inclusive, `until` exclusive, both ISO-8601 UTC; either may be open. */
export interface UsageQuery {
  agent?: string;
  since?: string;
  until?: string;
}
export interface SecretMeta {
  name: string;
  createdAt: string;
  updatedAt: string;
}
/** Where a secret may be sent; metadata only, never the value. */
export interface SecretBinding {
  name: string;
  /** host patterns as the operator wrote them (`host`, `*.host`, `host:port`) */
  hosts: string[];
  /** e.g. 'Authorization: Bearer {}', or null */
  header: string | null;
  updatedAt: string;
}
export interface AuditQuery {
  /** entries about the agent (subject) or by it (actor agent:NAME) */
  agent?: string;
  /** entries whose detail names the session (sessionId) */
  session?: string;
  /** an action (`egress.deny`) or a family of them (`egress`) */
  action?: string;
  /** ISO-8601 instant, inclusive */
  since?: string;
  limit?: number;
}
/** One audit row: the chained fields and their hashes (see src/audit/chain.ts). */
export type AuditEntry = ChainRecord;

export interface Store extends QueueStore, OutboxStore, TaskStore, ApprovalStore {
  close(): void;
  /**
   * Runs fn in one write transaction (taking the write lock first): everything fn writes commits together or
   * not at all. Lets a busy writer group many small records (audit entries, usage) into one commit.
   */
  atomically<T>(fn: () => T): T;

  ensureAgent(name: string): AgentRow;
  getAgent(name: string): AgentRow | undefined;
  listAgents(): AgentRow[];
  deleteAgent(name: string): void;

  /** Returns the session for (agent, key), creating it on first use. */
  openSession(agent: string, key: string): SessionRow;
  /** The stored transcript of a session, oldest first. */
  transcript(sessionId: string): ChatMessage[];
  appendTranscript(sessionId: string, messages: ChatMessage[]): void;

  /** Persists an inbound message before anything else happens to it. */
  recordMessage(m: {
    sessionId: string;
    role: 'user' | 'assistant';
    text: string;
    status: MessageStatus;
  }): MessageRow;
  setMessageStatus(id: string, status: MessageStatus, error?: string): void;
  getMessage(id: string): MessageRow | undefined;
  listMessages(sessionId: string): MessageRow[];

  startRun(r: { sessionId: string; messageId: string }): RunRow;
  finishRun(id: string, r: { status: RunStatus; stopReason?: string; error?: string }): void;
  getRun(id: string): RunRow | undefined;
  recordToolCall(c: { id: string; runId: string; name: string; input: Record<string, unknown> }): void;
  finishToolCall(id: string, r: { output: string; isError: boolean; durationMs: number }): void;
  listToolCalls(runId: string): ToolCallRow[];

  recordUsage(u: {
    agent: string;
    /** defaults to the session of `runId` */
    sessionId?: string | null;
    runId: string | null;
    provider: string;
    model: string;
    usage: Usage;
  }): void;
  listUsage(agent?: string): UsageRow[];
  /** Totals grouped by agent, provider and model, ordered by those three. */
  usageTotals(q?: UsageQuery): UsageTotal[];
  /** One agent's totals from a UTC day (YYYY-MM-DD) on, from per-day sums: cheap enough for every model call. */
  dailyUsageTotals(q: { agent: string; sinceDay: string }): UsageTotal[];

  /** Secret values are stored encrypted; the store never returns them in listings. */
  putSecret(name: string, value: string): void;
  readSecret(name: string): string | undefined;
  listSecrets(): SecretMeta[];
  deleteSecret(name: string): boolean;
  /** Binds an existing secret to hosts (replacing any binding), or removes the binding (null). */
  setSecretBinding(name: string, binding: { hosts: string[]; header: string | null } | null): void;
  /** Every binding, by name; read by the gateway at request time. */
  listSecretBindings(): SecretBinding[];

  appendAudit(e: {
    actor: string;
    action: string;
    subject: string;
    detail?: Record<string, unknown>;
  }): AuditEntry;
  listAudit(opts?: { limit?: number; subject?: string }): AuditEntry[];
  /** Entries matching every filter given, oldest first; the newest `limit` of them when a limit is set. */
  queryAudit(q: AuditQuery): AuditEntry[];
  getAudit(seq: number): AuditEntry | undefined;
  /** Re-computes the hash chain; returns the first broken sequence number, or null when intact. */
  verifyAudit(): { ok: true; count: number } | { ok: false; brokenAt: number; reason: string };
}
