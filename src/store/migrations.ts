// Numbered schema migrations, recorded by name in the `migrations` table and applied once, in order, at open.
// Never edit a shipped migration: add a new one, so every existing database reaches the same schema.
import type Database from 'better-sqlite3';
import { z } from 'zod';
import { CorralError } from '../util/errors.ts';

export interface Migration {
  id: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: '0001_initial',
    sql: `
      CREATE TABLE agents (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL
      );
      CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        agent TEXT NOT NULL REFERENCES agents(name) ON DELETE CASCADE,
        key TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (agent, key)
      );
      CREATE TABLE messages (
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
        text TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('received', 'running', 'done', 'failed')),
        error TEXT,
        created_at TEXT NOT NULL
      );
      CREATE INDEX messages_by_session ON messages(session_id);
      CREATE TABLE transcript (
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        json TEXT NOT NULL,
        PRIMARY KEY (session_id, seq)
      );
      CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'cancelled')),
        stop_reason TEXT,
        error TEXT,
        started_at TEXT NOT NULL,
        ended_at TEXT
      );
      CREATE INDEX runs_by_session ON runs(session_id);
      CREATE INDEX runs_by_message ON runs(message_id);
      CREATE TABLE tool_calls (
        id TEXT PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        input TEXT NOT NULL,
        output TEXT,
        is_error INTEGER NOT NULL DEFAULT 0 CHECK (is_error IN (0, 1)),
        duration_ms INTEGER
      );
      CREATE INDEX tool_calls_by_run ON tool_calls(run_id);
      CREATE TABLE usage (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        agent TEXT NOT NULL REFERENCES agents(name) ON DELETE CASCADE,
        run_id TEXT REFERENCES runs(id) ON DELETE SET NULL,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cache_read_tokens INTEGER NOT NULL,
        cache_write_tokens INTEGER NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE INDEX usage_by_agent ON usage(agent);
      CREATE INDEX usage_by_run ON usage(run_id);
      CREATE TABLE secrets (
        name TEXT PRIMARY KEY,
        nonce BLOB NOT NULL,
        ciphertext BLOB NOT NULL,
        tag BLOB NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE TABLE audit (
        seq INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        subject TEXT NOT NULL,
        detail TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
      );
      CREATE INDEX audit_by_subject ON audit(subject, seq);
    `,
  },
  {
    // Guards against our own bugs, not an attacker with the file: the hash chain is what detects tampering.
    id: 2,
    name: '0002_audit_append_only',
    sql: `
      CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END;
      CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END;
    `,
  },
  {
    // Usage per session too (a sandbox may call the model outside a run), backfilled from the run that links it,
    // and indexed by time for the usage report and the budget checks the gateway makes on every model call.
    id: 3,
    name: '0003_usage_sessions_and_time',
    sql: `
      ALTER TABLE usage ADD COLUMN session_id TEXT REFERENCES sessions(id) ON DELETE SET NULL;
      UPDATE usage SET session_id = (SELECT session_id FROM runs WHERE runs.id = usage.run_id)
        WHERE run_id IS NOT NULL;
      CREATE INDEX usage_by_session ON usage(session_id);
      CREATE INDEX usage_by_time ON usage(created_at);
      CREATE INDEX usage_by_agent_time ON usage(agent, created_at);
    `,
  },
  {
    // Where each secret may be sent (hosts, an optional header template); the value stays in `secrets`.
    id: 4,
    name: '0004_secret_bindings',
    sql: `
      CREATE TABLE secret_bindings (
        name TEXT PRIMARY KEY REFERENCES secrets(name) ON DELETE CASCADE,
        hosts TEXT NOT NULL,
        header TEXT,
        updated_at TEXT NOT NULL
      );
    `,
  },
  {
    // Per-day sums kept as usage is recorded, so a budget check reads a few rows per model, not every call
    // of the day; backfilled from the calls already stored. Days are UTC, as created_at is.
    id: 5,
    name: '0005_usage_daily',
    sql: `
      CREATE TABLE usage_daily (
        agent TEXT NOT NULL REFERENCES agents(name) ON DELETE CASCADE,
        day TEXT NOT NULL,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        calls INTEGER NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cache_read_tokens INTEGER NOT NULL,
        cache_write_tokens INTEGER NOT NULL,
        PRIMARY KEY (agent, day, provider, model)
      );
      INSERT INTO usage_daily
        SELECT agent, substr(created_at, 1, 10), provider, model, COUNT(*), SUM(input_tokens),
          SUM(output_tokens), SUM(cache_read_tokens), SUM(cache_write_tokens)
        FROM usage GROUP BY agent, substr(created_at, 1, 10), provider, model;
    `,
  },
  {
    // The daemon: messages get a kind, a source, a place in the durable queue, attempts across restarts and
    // the reply that answered them; the outbox holds deliveries under idempotency keys; tasks are schedules.
    id: 6,
    name: '0006_daemon_queue_outbox_tasks',
    sql: `
      ALTER TABLE messages ADD COLUMN kind TEXT NOT NULL DEFAULT 'user' CHECK (kind IN ('user', 'task', 'agent'));
      ALTER TABLE messages ADD COLUMN source TEXT;
      ALTER TABLE messages ADD COLUMN queue_seq INTEGER;
      ALTER TABLE messages ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE messages ADD COLUMN reply_to TEXT;
      ALTER TABLE messages ADD COLUMN reply_id TEXT REFERENCES messages(id) ON DELETE SET NULL;
      ALTER TABLE messages ADD COLUMN updated_at TEXT;
      CREATE UNIQUE INDEX messages_by_queue_seq ON messages(queue_seq) WHERE queue_seq IS NOT NULL;
      CREATE INDEX messages_unfinished ON messages(status) WHERE status IN ('received', 'running');
      CREATE TABLE outbox (
        key TEXT PRIMARY KEY,
        message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        channel TEXT NOT NULL,
        target TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error TEXT,
        created_at TEXT NOT NULL,
        delivered_at TEXT
      );
      CREATE INDEX outbox_pending ON outbox(next_attempt_at) WHERE status = 'pending';
      CREATE INDEX outbox_by_message ON outbox(message_id);
      CREATE TABLE tasks (
        id TEXT PRIMARY KEY,
        agent TEXT NOT NULL REFERENCES agents(name) ON DELETE CASCADE,
        prompt TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('cron', 'every', 'at')),
        schedule TEXT NOT NULL,
        tz TEXT,
        missed TEXT NOT NULL CHECK (missed IN ('run_once', 'skip')),
        paused INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
        next_run_at TEXT,
        last_run_at TEXT,
        last_message_id TEXT REFERENCES messages(id) ON DELETE SET NULL,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE INDEX tasks_due ON tasks(next_run_at) WHERE paused = 0 AND next_run_at IS NOT NULL;
      CREATE INDEX tasks_by_agent ON tasks(agent);
    `,
  },
  {
    // Actions held for a human (policy effect `ask`): the complete payload as canonical JSON, its key (the hash of
    // principal, action, resource and payload) so an identical request finds its approval, and the decision.
    id: 7,
    name: '0007_approvals',
    sql: `
      CREATE TABLE approvals (
        id TEXT PRIMARY KEY,
        action TEXT NOT NULL,
        principal TEXT NOT NULL,
        resource TEXT NOT NULL,
        payload TEXT NOT NULL,
        payload_key TEXT NOT NULL,
        reason TEXT NOT NULL,
        rule TEXT,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'expired')),
        decided_by TEXT,
        decided_at TEXT,
        always INTEGER NOT NULL DEFAULT 0 CHECK (always IN (0, 1))
      );
      CREATE INDEX approvals_by_key ON approvals(payload_key, status);
      CREATE INDEX approvals_by_status ON approvals(status, created_at);
    `,
  },
  {
    // Agent-to-agent messages carry how many agent hops led to them (loops are refused past a limit); a session's
    // compactions keep the summary that stands in for its first `covers` transcript entries in what is sent.
    id: 8,
    name: '0008_message_hops_compactions',
    sql: `
      ALTER TABLE messages ADD COLUMN hops INTEGER NOT NULL DEFAULT 0;
      CREATE TABLE compactions (
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        covers INTEGER NOT NULL,
        summary TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (session_id, covers)
      );
    `,
  },
  {
    // Nothing twice across a crash: an inbound chat message keeps the platform's identity of it (channel, chat,
    // message id), unique per session, so a platform's redelivery is dropped; an outbox item keeps how many of
    // its parts the receiver confirmed and which part was being sent, so a crash repeats at most that part.
    id: 9,
    name: '0009_platform_keys_delivery_parts',
    sql: `
      ALTER TABLE messages ADD COLUMN platform_key TEXT;
      CREATE UNIQUE INDEX messages_by_platform_key ON messages(session_id, platform_key)
        WHERE platform_key IS NOT NULL;
      ALTER TABLE outbox ADD COLUMN parts_done INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE outbox ADD COLUMN sending_part INTEGER;
    `,
  },
  {
    // Files an agent sends with a reply (send_file): kept with the message they answer, in the same commit as the
    // reply, so the outbox can deliver them after a crash; removed with the message.
    id: 10,
    name: '0010_message_files',
    sql: `
      CREATE TABLE message_files (
        id TEXT PRIMARY KEY,
        message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        name TEXT NOT NULL,
        mime TEXT NOT NULL,
        size INTEGER NOT NULL CHECK (size >= 0),
        sha256 TEXT NOT NULL,
        caption TEXT,
        content BLOB NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (message_id, seq)
      );
    `,
  },
  {
    // Tasks declared in an agent's file (`schedules:`) are kept apart from those added at run time: the daemon
    // reconciles them by their name in the file, and the CLI and the API refuse to change them.
    id: 11,
    name: '0011_declared_tasks',
    sql: `
      ALTER TABLE tasks ADD COLUMN source TEXT NOT NULL DEFAULT 'added' CHECK (source IN ('added', 'file'));
      ALTER TABLE tasks ADD COLUMN name TEXT;
      CREATE UNIQUE INDEX tasks_declared ON tasks(agent, name) WHERE source = 'file';
    `,
  },
];

const AppliedRow = z.object({ name: z.string() });

/**
 * Applies the migrations not yet recorded, all in one write transaction, and returns their names.
 * Throws store_too_new when the database records a migration this version does not know.
 */
export function applyMigrations(
  db: Database.Database,
  now: () => string,
  migrations: readonly Migration[] = MIGRATIONS,
): string[] {
  db.exec(`CREATE TABLE IF NOT EXISTS migrations (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    applied_at TEXT NOT NULL
  )`);
  const migrate = db.transaction((): string[] => {
    // Read inside the write transaction so two processes opening at once cannot both apply a migration.
    const applied = new Set(
      db
        .prepare('SELECT name FROM migrations ORDER BY id')
        .all()
        .map((row) => AppliedRow.parse(row).name),
    );
    const known = new Set(migrations.map((m) => m.name));
    const unknown = [...applied].filter((name) => !known.has(name));
    if (unknown.length > 0) {
      throw new CorralError(
        'store_too_new',
        `the database was created by a newer corral (unknown migrations: ${unknown.join(', ')})`,
        'upgrade corral to the version that wrote this database, or point it at another database',
      );
    }
    const record = db.prepare('INSERT INTO migrations (id, name, applied_at) VALUES (?, ?, ?)');
    const done: string[] = [];
    for (const m of [...migrations].sort((a, b) => a.id - b.id)) {
      if (applied.has(m.name)) continue;
      db.exec(m.sql);
      record.run(m.id, m.name, now());
      done.push(m.name);
    }
    return done;
  });
  return migrate.immediate();
}
