// The daemon's inbound queue and outbox on SQLite. Every state change of a message is one transaction, so a
// crash leaves each message either before or after a step, never half-way.
import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import { z } from 'zod';
import type { ChatMessage } from '../protocol/transcript.ts';
import { CorralError } from '../util/errors.ts';
import type { InboundRow, OutboxInsert, OutboxStore, QueueStore } from './daemon-types.ts';
import { InboundDb, NextAt, OutboxDb } from './sqlite-daemon-rows.ts';
import { parseRow, SessionDb } from './sqlite-rows.ts';
import type { MessageRow, SessionRow } from './types.ts';

const INBOUND = `SELECT m.id, s.agent, m.session_id, s.key AS session_key, m.kind, m.source, m.text, m.status,
    m.error, m.attempts, m.queue_seq, m.reply_to, m.hops, m.reply_id, r.text AS reply, m.created_at, m.updated_at
  FROM messages m JOIN sessions s ON s.id = m.session_id LEFT JOIN messages r ON r.id = m.reply_id`;

const FileMetaDb = z.object({
  id: z.string(),
  name: z.string(),
  mime: z.string(),
  size: z.number().int(),
  sha256: z.string(),
  caption: z.string().nullable(),
});
const FileDb = FileMetaDb.extend({ content: z.instanceof(Buffer) });
const SessionFileDb = FileMetaDb.extend({ message_id: z.string(), reply_id: z.string().nullable() });
const CompactionDb = z.object({ covers: z.number().int(), summary: z.string() });

function statements(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  return {
    nextQueueSeq: p('SELECT COALESCE(MAX(queue_seq), 0) + 1 AS next FROM messages'),
    insertInbound: p(
      `INSERT INTO messages (id, session_id, role, text, status, error, created_at, kind, source, queue_seq,
         attempts, reply_to, hops, updated_at, platform_key)
       VALUES (@id, @sessionId, 'user', @text, 'received', NULL, @now, @kind, @source, @queueSeq, 0, @replyTo, @hops,
         @now, @platformKey)`,
    ),
    insertReply: p(
      `INSERT INTO messages (id, session_id, role, text, status, error, created_at, updated_at)
       VALUES (?, ?, 'assistant', ?, 'done', NULL, ?, ?)`,
    ),
    getInbound: p(`${INBOUND} WHERE m.id = ?`),
    byPlatformKey: p('SELECT id FROM messages WHERE session_id = ? AND platform_key = ?'),
    queued: p(`${INBOUND} WHERE m.status = 'received' AND m.queue_seq IS NOT NULL ORDER BY m.queue_seq`),
    runningQueued: p(
      `${INBOUND} WHERE m.status = 'running' AND m.queue_seq IS NOT NULL ORDER BY m.queue_seq`,
    ),
    start: p(
      `UPDATE messages SET status = 'running', attempts = attempts + 1, error = NULL, updated_at = ?
       WHERE id = ? AND status = 'received'`,
    ),
    requeue: p(
      `UPDATE messages SET status = 'received', attempts = MAX(attempts - 1, 0), updated_at = ?
       WHERE id = ? AND status = 'running'`,
    ),
    done: p(`UPDATE messages SET status = 'done', error = NULL, reply_id = ?, updated_at = ? WHERE id = ?`),
    failed: p(`UPDATE messages SET status = 'failed', error = ?, updated_at = ? WHERE id = ?`),
    setRequeued: p(`UPDATE messages SET status = 'received', updated_at = ? WHERE id = ?`),
    finishRun: p('UPDATE runs SET status = ?, stop_reason = ?, error = ?, ended_at = ? WHERE id = ?'),
    failRunsOf: p(
      `UPDATE runs SET status = 'failed', error = ?, ended_at = ? WHERE message_id = ? AND status = 'running'`,
    ),
    findSession: p('SELECT id, agent, key, created_at FROM sessions WHERE agent = ? AND key = ?'),
    saveCompaction: p(
      `INSERT INTO compactions (session_id, covers, summary, created_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (session_id, covers) DO UPDATE SET summary = excluded.summary`,
    ),
    latestCompaction: p(
      'SELECT covers, summary FROM compactions WHERE session_id = ? ORDER BY covers DESC LIMIT 1',
    ),

    insertOutbox: p(
      `INSERT INTO outbox (key, message_id, channel, target, payload, status, attempts, next_attempt_at,
         created_at)
       VALUES (@key, @messageId, @channel, @target, @payload, 'pending', 0, @now, @now)
       ON CONFLICT (key) DO NOTHING`,
    ),
    dueOutbox: p(
      `SELECT * FROM outbox WHERE status = 'pending' AND next_attempt_at <= ?
       ORDER BY next_attempt_at, rowid LIMIT ?`,
    ),
    nextOutboxDue: p(`SELECT MIN(next_attempt_at) AS at FROM outbox WHERE status = 'pending'`),
    delivered: p(
      `UPDATE outbox SET status = 'delivered', attempts = attempts + 1, last_error = NULL, delivered_at = ?,
         sending_part = NULL
       WHERE key = ? AND status = 'pending'`,
    ),
    sendingPart: p(`UPDATE outbox SET sending_part = ? WHERE key = ? AND status = 'pending'`),
    partSent: p(
      `UPDATE outbox SET parts_done = MAX(parts_done, ?), sending_part = NULL WHERE key = ? AND status = 'pending'`,
    ),
    journal: p('SELECT parts_done, sending_part FROM outbox WHERE key = ?'),
    retry: p(
      `UPDATE outbox SET status = ?, attempts = attempts + 1, last_error = ?, next_attempt_at = ?
       WHERE key = ? AND status = 'pending'`,
    ),
    insertFile: p(
      `INSERT INTO message_files (id, message_id, seq, name, mime, size, sha256, caption, content, created_at)
       VALUES (@id, @messageId, @seq, @name, @mime, @size, @sha256, @caption, @content, @now)`,
    ),
    listFiles: p(
      'SELECT id, name, mime, size, sha256, caption FROM message_files WHERE message_id = ? ORDER BY seq',
    ),
    getFile: p(
      'SELECT id, name, mime, size, sha256, caption, content FROM message_files WHERE message_id = ? AND id = ?',
    ),
    sessionFiles: p(
      `SELECT f.id, f.name, f.mime, f.size, f.sha256, f.caption, f.message_id, m.reply_id
       FROM message_files f JOIN messages m ON m.id = f.message_id
       WHERE m.session_id = ? ORDER BY m.created_at, m.rowid, f.seq`,
    ),
    getOutbox: p('SELECT * FROM outbox WHERE key = ?'),
    listOutbox: p('SELECT * FROM outbox WHERE message_id = ? ORDER BY rowid'),
  };
}

const NextSeq = z.object({ next: z.number().int() });
const IdOnly = z.object({ id: z.string() });
const JournalDb = z.object({ parts_done: z.number().int(), sending_part: z.number().int().nullable() });

export function createQueueStore(
  db: Database.Database,
  deps: {
    now: () => string;
    openSession: (agent: string, key: string) => SessionRow;
    ensureAgent: (name: string) => unknown;
    appendTranscript: (sessionId: string, messages: ChatMessage[]) => void;
  },
): QueueStore & OutboxStore {
  const q = statements(db);
  const { now } = deps;
  const inbound = (row: unknown): InboundRow => parseRow(InboundDb, row, 'messages');
  const getInbound = (id: string): InboundRow | undefined => {
    const row: unknown = q.getInbound.get(id);
    return row === undefined ? undefined : inbound(row);
  };
  const mustGet = (id: string): InboundRow => {
    const row = getInbound(id);
    if (row === undefined) throw new CorralError('not_found', `message "${id}" does not exist`);
    return row;
  };
  const addOutbox = (items: OutboxInsert[], at: string): void => {
    for (const o of items) q.insertOutbox.run({ ...o, payload: JSON.stringify(o.payload), now: at });
  };

  /** The message's id, and whether it was there already (the same platform key in the same session). */
  const accept = db.transaction(
    (m: Parameters<QueueStore['acceptMessage']>[0]): { id: string; duplicate: boolean } => {
      deps.ensureAgent(m.agent);
      const session = deps.openSession(m.agent, m.sessionKey);
      if (m.platformKey !== undefined) {
        const seen: unknown = q.byPlatformKey.get(session.id, m.platformKey);
        if (seen !== undefined) return { id: parseRow(IdOnly, seen, 'messages').id, duplicate: true };
      }
      const id = randomUUID();
      const queueSeq = m.queued ? parseRow(NextSeq, q.nextQueueSeq.get(), 'messages').next : null;
      q.insertInbound.run({
        id,
        sessionId: session.id,
        text: m.text,
        now: now(),
        kind: m.kind,
        source: m.source,
        queueSeq,
        replyTo: m.replyTo ? JSON.stringify(m.replyTo) : null,
        hops: m.hops ?? 0,
        platformKey: m.platformKey ?? null,
      });
      return { id, duplicate: false };
    },
  );

  const complete = db.transaction((c: Parameters<QueueStore['completeMessage']>[0]): MessageRow => {
    const msg = mustGet(c.messageId);
    if (msg.status !== 'running')
      throw new CorralError('message_state', `message ${c.messageId} is ${msg.status}, not running`);
    const at = now();
    deps.appendTranscript(msg.sessionId, c.transcript);
    const reply: MessageRow = {
      id: randomUUID(),
      sessionId: msg.sessionId,
      role: 'assistant',
      text: c.reply,
      status: 'done',
      error: null,
      createdAt: at,
    };
    q.insertReply.run(reply.id, reply.sessionId, reply.text, at, at);
    q.done.run(reply.id, at, c.messageId);
    q.finishRun.run(c.cancelled ? 'cancelled' : 'done', c.stopReason, null, at, c.runId);
    (c.files ?? []).forEach((f, seq) => q.insertFile.run({ ...f, messageId: c.messageId, seq, now: at }));
    addOutbox(c.outbox, at);
    return reply;
  });

  const fail = db.transaction((f: Parameters<QueueStore['failMessage']>[0]): void => {
    const at = now();
    if (q.failed.run(f.error, at, f.messageId).changes === 0) mustGet(f.messageId);
    if (f.runId !== null) q.finishRun.run('failed', null, f.error, at, f.runId);
    addOutbox(f.outbox, at);
  });

  const recover = db.transaction((opts: Parameters<QueueStore['recoverUnfinished']>[0]) => {
    const at = now();
    const requeued: InboundRow[] = [];
    const failed: InboundRow[] = [];
    for (const row of q.runningQueued.all().map(inbound)) {
      q.failRunsOf.run(opts.reason, at, row.id);
      if (row.attempts >= opts.maxAttempts) {
        const error = `${opts.reason}; not retried after ${row.attempts} attempts`;
        q.failed.run(error, at, row.id);
        addOutbox(opts.outboxFor(row, error), at);
        failed.push({ ...row, status: 'failed', error, updatedAt: at });
      } else {
        q.setRequeued.run(at, row.id);
        requeued.push({ ...row, status: 'received', updatedAt: at });
      }
    }
    return { requeued, failed };
  });

  return {
    acceptMessage: (m) => mustGet(accept.immediate(m).id),
    acceptMessageOnce(m) {
      const { id, duplicate } = accept.immediate(m);
      return { row: mustGet(id), duplicate };
    },
    getInbound,
    queuedMessages: () => q.queued.all().map(inbound),
    startMessage(id) {
      if (q.start.run(now(), id).changes === 0) {
        const row = mustGet(id);
        throw new CorralError('message_state', `message ${id} is ${row.status}, not waiting to run`);
      }
      return mustGet(id);
    },
    requeueMessage(id) {
      q.requeue.run(now(), id);
    },
    completeMessage: (c) => complete.immediate(c),
    failMessage: (f) => fail.immediate(f),
    recoverUnfinished: (opts) => recover.immediate(opts),
    findSession(agent, key) {
      const row: unknown = q.findSession.get(agent, key);
      return row === undefined ? undefined : parseRow(SessionDb, row, 'sessions');
    },
    saveCompaction(sessionId, covers, summary) {
      q.saveCompaction.run(sessionId, covers, summary, now());
    },
    latestCompaction(sessionId) {
      const row: unknown = q.latestCompaction.get(sessionId);
      return row === undefined ? undefined : parseRow(CompactionDb, row, 'compactions');
    },

    dueOutbox: (at, limit) => q.dueOutbox.all(at, limit).map((r) => parseRow(OutboxDb, r, 'outbox')),
    nextOutboxDue: () => parseRow(NextAt, q.nextOutboxDue.get(), 'outbox').at ?? undefined,
    outboxDelivered(key) {
      q.delivered.run(now(), key);
    },
    outboxSending(key, part) {
      q.sendingPart.run(part, key);
    },
    outboxPartSent(key, part) {
      q.partSent.run(part + 1, key);
    },
    outboxJournal(key) {
      const row: unknown = q.journal.get(key);
      if (row === undefined) return { partsDone: 0, sendingPart: null };
      const j = parseRow(JournalDb, row, 'outbox');
      return { partsDone: j.parts_done, sendingPart: j.sending_part };
    },
    outboxRetry(key, r) {
      q.retry.run(r.giveUp ? 'failed' : 'pending', r.error, r.nextAttemptAt, key);
    },
    getOutbox(key) {
      const row: unknown = q.getOutbox.get(key);
      return row === undefined ? undefined : parseRow(OutboxDb, row, 'outbox');
    },
    listOutbox: (messageId) => q.listOutbox.all(messageId).map((r) => parseRow(OutboxDb, r, 'outbox')),
    listMessageFiles: (messageId) =>
      q.listFiles.all(messageId).map((r) => parseRow(FileMetaDb, r, 'message_files')),
    listSessionFiles: (sessionId) =>
      q.sessionFiles.all(sessionId).map((r) => {
        const { message_id, reply_id, ...meta } = parseRow(SessionFileDb, r, 'message_files');
        return { ...meta, messageId: message_id, replyId: reply_id };
      }),
    getMessageFile(messageId, fileId) {
      const row: unknown = q.getFile.get(messageId, fileId);
      return row === undefined ? undefined : parseRow(FileDb, row, 'message_files');
    },
  };
}
