// The embedded Store: one better-sqlite3 connection in WAL mode, owned by the host (the only writer).
// Secret values are sealed with a key kept outside the database; the audit log is hash-chained.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import Database from 'better-sqlite3';
import { z } from 'zod';
import { canonicalJson, checkLink, GENESIS, hashCanonicalEntry } from '../audit/chain.ts';
import type { ChainRecord } from '../audit/chain.ts';
import { ChatMessage, Usage } from '../protocol/transcript.ts';
import { CorralError } from '../util/errors.ts';
import { applyMigrations } from './migrations.ts';
import { createSecretBox } from './secret-box.ts';
import { createQueueStore } from './sqlite-queue.ts';
import { createTaskStore } from './sqlite-tasks.ts';
import { createApprovalStore } from './sqlite-approvals.ts';
import * as rows from './sqlite-rows.ts';
import { prepareStatements } from './sqlite-statements.ts';
import type { AuditEntry, MessageRow, RunRow, Store } from './types.ts';

/** How long a statement waits for another connection's write lock before failing with SQLITE_BUSY. */
export const BUSY_TIMEOUT_MS = 5_000;

export interface SqliteStoreOptions {
  /** A file path, or ':memory:' for a private in-memory database. */
  path: string;
  /** The 32-byte key that seals secret values (see loadOrCreateKey). */
  secretKey: Buffer;
  clock?: () => Date;
}

const NextSeq = z.object({ next: z.number().int() });
const AuditHead = z.object({ seq: z.number().int(), hash: z.string() }).optional();
const JsonObject = z.record(z.string(), z.unknown());

export function openSqliteStore(opts: SqliteStoreOptions): Store {
  const box = createSecretBox(opts.secretKey);
  const clock = opts.clock ?? (() => new Date());
  const now = (): string => clock().toISOString();
  const db = openDatabase(opts.path);
  try {
    applyMigrations(db, now);
  } catch (err) {
    db.close();
    throw err;
  }
  const q = prepareStatements(db);

  const getAgent = (name: string) => optional(rows.AgentDb, q.getAgent.get(name), 'agents');
  const getMessage = (id: string) => optional(rows.MessageDb, q.getMessage.get(id), 'messages');
  const getRun = (id: string) => optional(rows.RunDb, q.getRun.get(id), 'runs');

  const appendTranscript = db.transaction((sessionId: string, messages: ChatMessage[]) => {
    let seq = rows.parseRow(NextSeq, q.nextTranscriptSeq.get(sessionId), 'transcript').next;
    for (const m of messages) q.insertTranscript.run(sessionId, seq++, JSON.stringify(m));
  });

  // The call and its day's sums together, so the two never disagree.
  const recordUsage = db.transaction(
    (params: Record<string, string | number | null> & { createdAt: string }) => {
      q.insertUsage.run(params);
      q.addUsageDaily.run({ ...params, day: params.createdAt.slice(0, 10) });
    },
  );

  const appendAudit = db.transaction((e: Parameters<Store['appendAudit']>[0]): AuditEntry => {
    const head = rows.parseRow(AuditHead, q.lastAudit.get(), 'audit');
    const canonicalDetail = canonicalJson(e.detail ?? {});
    // Store and hash the JSON round-tripped detail, so that what verifyAudit reads back hashes the same.
    const detail = JsonObject.parse(JSON.parse(canonicalDetail));
    const fields = {
      seq: (head?.seq ?? 0) + 1,
      at: now(),
      actor: e.actor,
      action: e.action,
      subject: e.subject,
    };
    const prevHash = head?.hash ?? GENESIS;
    const hash = hashCanonicalEntry(prevHash, fields, canonicalDetail);
    q.insertAudit.run({ ...fields, detail: canonicalDetail, prevHash, hash });
    return { ...fields, detail, prevHash, hash };
  });

  const inTransaction = db.transaction((fn: () => void) => fn());
  function atomically<T>(fn: () => T): T {
    let out: { value: T } | undefined;
    inTransaction.immediate(() => {
      out = { value: fn() };
    });
    if (out === undefined) throw new Error('transaction body did not run');
    return out.value;
  }

  const ensureAgent = (name: string) => {
    q.insertAgent.run(name, now());
    return mustExist(getAgent(name), 'agent', name);
  };
  const openSession = (agent: string, key: string) => {
    onConstraint(() => q.insertSession.run(randomUUID(), agent, key, now()), {
      fk: () => notFound('agent', agent, 'create the agent before opening a session for it'),
    });
    const row = optional(rows.SessionDb, q.getSession.get(agent, key), 'sessions');
    return mustExist(row, 'session', `${agent}/${key}`);
  };
  const appendValidTranscript = (sessionId: string, messages: ChatMessage[]): void => {
    // Validate before writing: one bad message stored would make the whole session unreadable.
    const valid = messages.map((m, i) => {
      const parsed = ChatMessage.safeParse(m);
      if (parsed.success) return parsed.data;
      throw new CorralError(
        'invalid_transcript',
        `message ${i} is not a valid ChatMessage: ${parsed.error.message}`,
      );
    });
    onConstraint(() => appendTranscript(sessionId, valid), { fk: () => notFound('session', sessionId) });
  };

  return {
    ...createQueueStore(db, { now, openSession, ensureAgent, appendTranscript: appendValidTranscript }),
    ...createTaskStore(db, now),
    ...createApprovalStore(db, now),
    close: () => db.close(),
    atomically,

    ensureAgent,
    getAgent,
    listAgents: () => q.listAgents.all().map((r) => rows.parseRow(rows.AgentDb, r, 'agents')),
    deleteAgent(name) {
      q.deleteAgent.run(name);
    },

    openSession,
    transcript: (sessionId) =>
      q.transcript.all(sessionId).map((r) => rows.parseRow(rows.TranscriptDb, r, 'transcript')),
    appendTranscript: appendValidTranscript,

    recordMessage(m) {
      const row: MessageRow = { id: randomUUID(), ...m, error: null, createdAt: now() };
      onConstraint(
        () => q.insertMessage.run(row.id, row.sessionId, row.role, row.text, row.status, row.createdAt),
        {
          fk: () => notFound('session', m.sessionId),
        },
      );
      return row;
    },
    setMessageStatus(id, status, error) {
      const { changes } = q.setMessageStatus.run(status, error ?? null, id);
      if (changes === 0) throw notFound('message', id);
    },
    getMessage,
    listMessages: (sessionId) =>
      q.listMessages.all(sessionId).map((r) => rows.parseRow(rows.MessageDb, r, 'messages')),

    startRun(r) {
      const row: RunRow = {
        id: randomUUID(),
        ...r,
        status: 'running',
        stopReason: null,
        error: null,
        startedAt: now(),
        endedAt: null,
      };
      onConstraint(() => q.insertRun.run(row.id, row.sessionId, row.messageId, row.startedAt), {
        fk: () => notFound('session or message', `${r.sessionId}/${r.messageId}`),
      });
      return row;
    },
    finishRun(id, r) {
      const { changes } = q.finishRun.run(r.status, r.stopReason ?? null, r.error ?? null, now(), id);
      if (changes === 0) throw notFound('run', id);
    },
    getRun,
    recordToolCall(c) {
      onConstraint(() => q.insertToolCall.run(c.id, c.runId, c.name, JSON.stringify(c.input)), {
        fk: () => notFound('run', c.runId),
        unique: () =>
          new CorralError(
            'tool_call_duplicate',
            `a tool call with id "${c.id}" is already recorded`,
            'tool call ids must be unique across all runs',
          ),
      });
    },
    finishToolCall(id, r) {
      const { changes } = q.finishToolCall.run(r.output, r.isError ? 1 : 0, Math.round(r.durationMs), id);
      if (changes === 0) throw notFound('tool call', id);
    },
    listToolCalls: (runId) =>
      q.listToolCalls.all(runId).map((r) => rows.parseRow(rows.ToolCallDb, r, 'tool_calls')),

    recordUsage(u) {
      const usage = Usage.parse(u.usage);
      const { agent, runId, provider, model } = u;
      const params = { agent, sessionId: u.sessionId ?? null, runId, provider, model, ...usage };
      onConstraint(() => recordUsage({ ...params, createdAt: now() }), {
        fk: () => notFound('agent or run', `${u.agent}/${u.runId ?? '-'}`),
      });
    },
    listUsage: (agent) =>
      q.listUsage.all({ agent: agent ?? null }).map((r) => rows.parseRow(rows.UsageDb, r, 'usage')),
    usageTotals: (w = {}) =>
      q.usageTotals
        .all({ agent: w.agent ?? null, since: w.since ?? null, until: w.until ?? null })
        .map((r) => rows.parseRow(rows.UsageTotalDb, r, 'usage')),
    dailyUsageTotals: (w) =>
      q.dailyUsageTotals.all(w).map((r) => rows.parseRow(rows.UsageTotalDb, r, 'usage_daily')),

    putSecret(name, value) {
      q.upsertSecret.run({ name, ...box.seal(name, value), now: now() });
    },
    readSecret(name) {
      const sealed = optional(rows.SealedDb, q.readSecret.get(name), 'secrets');
      return sealed === undefined ? undefined : box.open(name, sealed);
    },
    listSecrets: () => q.listSecrets.all().map((r) => rows.parseRow(rows.SecretMetaDb, r, 'secrets')),
    deleteSecret: (name) => q.deleteSecret.run(name).changes > 0,
    setSecretBinding(name, binding) {
      if (binding === null) return void q.deleteSecretBinding.run(name);
      const params = { name, hosts: JSON.stringify(binding.hosts), header: binding.header, now: now() };
      onConstraint(() => q.upsertSecretBinding.run(params), {
        fk: () => notFound('secret', name, `set it first: printf %s "$VALUE" | corral secret set ${name}`),
      });
    },
    listSecretBindings: () =>
      q.listSecretBindings.all().map((r) => rows.parseRow(rows.SecretBindingDb, r, 'secret_bindings')),

    // .immediate takes the write lock before reading the head, so a second process cannot fork the chain.
    appendAudit: (e) => appendAudit.immediate(e),
    listAudit(opts = {}) {
      const limit = opts.limit ?? -1;
      if (!Number.isInteger(limit) || limit < -1) {
        throw new CorralError('invalid_argument', `audit limit must be a non-negative integer, got ${limit}`);
      }
      return q.listAudit
        .all({ subject: opts.subject ?? null, limit })
        .map((r) => rows.parseRow(rows.AuditDb, r, 'audit'));
    },
    queryAudit(w) {
      const limit = w.limit ?? -1;
      if (!Number.isInteger(limit) || limit < -1)
        throw new CorralError('invalid_argument', `audit limit must be a non-negative integer, got ${limit}`);
      const params = { agent: w.agent ?? null, session: w.session ?? null, action: w.action ?? null };
      return q.queryAudit
        .all({ ...params, since: w.since ?? null, limit })
        .map((r) => rows.parseRow(rows.AuditDb, r, 'audit'));
    },
    getAudit: (seq) => optional(rows.AuditDb, q.getAudit.get(seq), 'audit'),
    verifyAudit() {
      let prev: ChainRecord | null = null;
      let count = 0;
      for (const raw of q.allAudit.iterate()) {
        const expected = prev === null ? 1 : prev.seq + 1;
        const parsed = rows.AuditDb.safeParse(raw);
        if (!parsed.success)
          return { ok: false, brokenAt: expected, reason: `the row after seq ${expected - 1} is malformed` };
        const reason = checkLink(prev, parsed.data);
        if (reason !== null) return { ok: false, brokenAt: expected, reason };
        prev = parsed.data;
        count += 1;
      }
      return { ok: true, count };
    },
  };
}

/** Opens the file (created 0600 first, since SQLite would use the umask) and sets the connection pragmas. */
function openDatabase(path: string): Database.Database {
  if (path !== ':memory:' && !fs.existsSync(path)) fs.closeSync(fs.openSync(path, 'a', 0o600));
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma('synchronous = NORMAL');
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

function optional<T extends z.ZodType>(schema: T, row: unknown, table: string): z.output<T> | undefined {
  return row === undefined ? undefined : rows.parseRow(schema, row, table);
}

function mustExist<T>(row: T | undefined, what: string, id: string): T {
  if (row === undefined) throw notFound(what, id);
  return row;
}

function notFound(what: string, id: string, hint?: string): CorralError {
  return new CorralError('not_found', `${what} "${id}" does not exist`, hint);
}

/** Runs a write and turns SQLite constraint failures into CorralErrors the caller can act on. */
function onConstraint<T>(write: () => T, map: { fk: () => CorralError; unique?: () => CorralError }): T {
  try {
    return write();
  } catch (err) {
    if (err instanceof Database.SqliteError) {
      if (err.code === 'SQLITE_CONSTRAINT_FOREIGNKEY') throw withCause(map.fk(), err);
      if (
        map.unique &&
        (err.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || err.code === 'SQLITE_CONSTRAINT_UNIQUE')
      ) {
        throw withCause(map.unique(), err);
      }
    }
    throw err;
  }
}

function withCause(e: CorralError, cause: unknown): CorralError {
  return new CorralError(e.code, e.message, e.hint, { cause });
}
