// Usage migrations on a database that already holds usage: 0003 gives rows the session of their run, 0005
// backfills the per-day sums.
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyMigrations, MIGRATIONS } from './migrations.ts';

describe('usage migrations 0003 and 0005', () => {
  const now = () => '2024-01-01T00:00:00.000Z';
  let db: Database.Database;
  beforeEach(() => {
    db = new Database(':memory:');
    db.pragma('foreign_keys = ON');
  });
  afterEach(() => db.close());

  it('backfills session_id from the run and leaves run-less usage without one', () => {
    const upTo0002 = MIGRATIONS.filter((m) => m.id <= 2);
    applyMigrations(db, now, upTo0002);
    db.exec(`
      INSERT INTO agents (name, created_at) VALUES ('a', 't');
      INSERT INTO sessions (id, agent, key, created_at) VALUES ('s1', 'a', 'k', 't');
      INSERT INTO messages (id, session_id, role, text, status, created_at) VALUES ('m1', 's1', 'user', 'hi', 'done', 't');
      INSERT INTO runs (id, session_id, message_id, status, started_at) VALUES ('r1', 's1', 'm1', 'done', 't');
      INSERT INTO usage (agent, run_id, provider, model, input_tokens, output_tokens, cache_read_tokens,
        cache_write_tokens, created_at) VALUES ('a', 'r1', 'p', 'm', 1, 1, 0, 0, 't'), ('a', NULL, 'p', 'm', 2, 2, 0, 0, 't');
    `);
    expect(applyMigrations(db, now)).toContain('0003_usage_sessions_and_time');
    const rows = db.prepare('SELECT run_id, session_id FROM usage ORDER BY id').all();
    expect(rows).toEqual([
      { run_id: 'r1', session_id: 's1' },
      { run_id: null, session_id: null },
    ]);
    // 0005_usage_daily: the day's sums, backfilled from the same rows
    const daily = db.prepare('SELECT day, calls, input_tokens, output_tokens FROM usage_daily').all();
    expect(daily).toEqual([{ day: 't', calls: 2, input_tokens: 3, output_tokens: 3 }]);
  });
});
