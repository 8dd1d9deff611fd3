// Runs the Store contract against SQLite in memory and on disk, then checks what only a real file can show:
// WAL, file modes, reopening, migrations, encryption at rest and tamper detection from another connection.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { applyMigrations, MIGRATIONS } from './migrations.ts';
import { openSqliteStore } from './sqlite.ts';
import { expectCorralError, runStoreContract } from './store.contract.ts';

const KEY = randomBytes(32);
const FIXED = () => new Date('2024-03-01T12:00:00.000Z');

runStoreContract('sqlite :memory:', ({ clock }) => {
  const store = openSqliteStore({ path: ':memory:', secretKey: KEY, clock });
  return { store, cleanup: () => store.close() };
});

runStoreContract('sqlite file', ({ clock }) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-store-'));
  const store = openSqliteStore({ path: path.join(dir, 'corral.db'), secretKey: KEY, clock });
  return {
    store,
    cleanup: () => {
      store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

const MigrationRow = z.object({ id: z.number(), name: z.string(), applied_at: z.string() });
const readMigrations = (db: Database.Database) =>
  db
    .prepare('SELECT id, name, applied_at FROM migrations ORDER BY id')
    .all()
    .map((r) => MigrationRow.parse(r));

describe('sqlite store on disk', () => {
  let dir: string;
  let dbPath: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-store-'));
    dbPath = path.join(dir, 'corral.db');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** A second, independent connection, as another process (or an attacker with the file) would have. */
  function sideConnection<T>(fn: (db: Database.Database) => T): T {
    const db = new Database(dbPath);
    try {
      return fn(db);
    } finally {
      db.close();
    }
  }

  it('uses WAL and creates the database and its WAL file with mode 0600', () => {
    const oldUmask = process.umask(0o022);
    try {
      const store = openSqliteStore({ path: dbPath, secretKey: KEY });
      store.ensureAgent('a');
      expect(sideConnection((db) => db.pragma('journal_mode', { simple: true }))).toBe('wal');
      expect(fs.statSync(dbPath).mode & 0o777).toBe(0o600);
      expect(fs.statSync(`${dbPath}-wal`).mode & 0o777).toBe(0o600);
      store.close();
    } finally {
      process.umask(oldUmask);
    }
  });

  it('keeps data across reopen and does not re-apply migrations', () => {
    const first = openSqliteStore({ path: dbPath, secretKey: KEY, clock: FIXED });
    first.ensureAgent('a');
    const session = first.openSession('a', 'k');
    first.appendTranscript(session.id, [{ role: 'user', content: [{ type: 'text', text: 'remember me' }] }]);
    first.putSecret('api', 'sk-123');
    const e1 = first.appendAudit({ actor: 'host', action: 'boot', subject: 'host' });
    first.close();
    const recorded = sideConnection(readMigrations);
    expect(recorded.map((m) => m.name)).toEqual(MIGRATIONS.map((m) => m.name));
    expect(recorded.every((m) => m.applied_at === '2024-03-01T12:00:00.000Z')).toBe(true);

    const later = () => new Date('2025-01-01T00:00:00.000Z');
    const second = openSqliteStore({ path: dbPath, secretKey: KEY, clock: later });
    expect(second.openSession('a', 'k').id).toBe(session.id);
    expect(second.transcript(session.id)).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'remember me' }] },
    ]);
    expect(second.readSecret('api')).toBe('sk-123');
    const e2 = second.appendAudit({ actor: 'host', action: 'boot', subject: 'host' });
    expect(e2).toMatchObject({ seq: 2, prevHash: e1.hash, at: '2025-01-01T00:00:00.000Z' });
    expect(second.verifyAudit()).toEqual({ ok: true, count: 2 });
    second.close();
    expect(sideConnection(readMigrations)).toEqual(recorded);
  });

  it('never writes a secret value in plain text to the database or its WAL', () => {
    const store = openSqliteStore({ path: dbPath, secretKey: KEY });
    const secret = 'sk-live-SUPERSECRET-4f9a2c';
    // A control value stored in the clear proves the scan below can see what is written.
    const control = 'plain-control-agent-7d1e';
    store.ensureAgent(control);
    store.putSecret('api', secret);
    const bytes = () =>
      Buffer.concat([dbPath, `${dbPath}-wal`].filter((p) => fs.existsSync(p)).map((p) => fs.readFileSync(p)));
    expect(bytes().includes(control)).toBe(true);
    expect(bytes().includes(secret)).toBe(false);
    store.close(); // checkpoints the WAL into the main file
    expect(bytes().includes(control)).toBe(true);
    expect(bytes().includes(secret)).toBe(false);
  });

  it('refuses to decrypt with another key, and a ciphertext moved to another name', () => {
    const store = openSqliteStore({ path: dbPath, secretKey: KEY });
    store.putSecret('github', 'ghp_token');
    store.close();
    const wrongKey = openSqliteStore({ path: dbPath, secretKey: randomBytes(32) });
    const err = expectCorralError(() => wrongKey.readSecret('github'), 'secret_undecryptable');
    expect(err.hint).toMatch(/key file does not match this database/);
    expect(wrongKey.listSecrets().map((s) => s.name)).toEqual(['github']);
    wrongKey.close();

    sideConnection((db) => db.prepare("UPDATE secrets SET name = 'slack' WHERE name = 'github'").run());
    const moved = openSqliteStore({ path: dbPath, secretKey: KEY });
    expectCorralError(() => moved.readSecret('slack'), 'secret_undecryptable');
    moved.close();
  });

  describe('audit tampering through another connection', () => {
    function withAudit(n: number) {
      const store = openSqliteStore({ path: dbPath, secretKey: KEY });
      for (let i = 1; i <= n; i++) {
        store.appendAudit({ actor: 'host', action: 'payment', subject: 'acct', detail: { amount: i } });
      }
      expect(store.verifyAudit()).toEqual({ ok: true, count: n });
      return store;
    }

    it('refuses plain UPDATE and DELETE of audit rows', () => {
      const store = withAudit(2);
      sideConnection((db) => {
        expect(() => db.prepare('UPDATE audit SET actor = ? WHERE seq = 1').run('x')).toThrow(/append-only/);
        expect(() => db.prepare('DELETE FROM audit WHERE seq = 1').run()).toThrow(/append-only/);
      });
      expect(store.verifyAudit()).toEqual({ ok: true, count: 2 });
      store.close();
    });

    it('detects an edited row at its seq', () => {
      const store = withAudit(4);
      sideConnection((db) => {
        db.exec('DROP TRIGGER audit_no_update');
        db.prepare('UPDATE audit SET detail = ? WHERE seq = 2').run('{"amount":1000}');
      });
      const verdict = store.verifyAudit();
      expect(verdict).toMatchObject({ ok: false, brokenAt: 2 });
      if (!verdict.ok) expect(verdict.reason).toMatch(/edited/);
      store.close();
    });

    it('detects a deleted row as a sequence gap', () => {
      const store = withAudit(4);
      sideConnection((db) => {
        db.exec('DROP TRIGGER audit_no_delete');
        db.prepare('DELETE FROM audit WHERE seq = 3').run();
      });
      const verdict = store.verifyAudit();
      expect(verdict).toMatchObject({ ok: false, brokenAt: 3 });
      if (!verdict.ok) expect(verdict.reason).toMatch(/gap/);
      store.close();
    });

    it('detects two rows swapped', () => {
      const store = withAudit(4);
      sideConnection((db) => {
        db.exec('DROP TRIGGER audit_no_update');
        db.exec(`UPDATE audit SET seq = -1 WHERE seq = 2;
                 UPDATE audit SET seq = 2 WHERE seq = 3;
                 UPDATE audit SET seq = 3 WHERE seq = -1;`);
      });
      expect(store.verifyAudit()).toMatchObject({ ok: false, brokenAt: 2 });
      store.close();
    });

    it('reports a row whose detail is no longer JSON instead of throwing', () => {
      const store = withAudit(3);
      sideConnection((db) => {
        db.exec('DROP TRIGGER audit_no_update');
        db.prepare("UPDATE audit SET detail = 'not json' WHERE seq = 3").run();
      });
      expect(store.verifyAudit()).toMatchObject({ ok: false, brokenAt: 3 });
      store.close();
    });
  });

  it('refuses a database written by a newer corral, with a hint', () => {
    openSqliteStore({ path: dbPath, secretKey: KEY }).close();
    sideConnection((db) =>
      db
        .prepare("INSERT INTO migrations (id, name, applied_at) VALUES (999, '0999_from_the_future', 'x')")
        .run(),
    );
    const err = expectCorralError(() => openSqliteStore({ path: dbPath, secretKey: KEY }), 'store_too_new');
    expect(err.message).toContain('0999_from_the_future');
    expect(err.hint).toMatch(/upgrade corral/);
  });

  it('finds a message that was running when the process died, after reopening the file', () => {
    const first = openSqliteStore({ path: dbPath, secretKey: KEY });
    const m = first.acceptMessage({
      agent: 'a',
      sessionKey: 'api:default',
      kind: 'user',
      source: 'api',
      text: 'mid-turn',
      queued: true,
    });
    first.startMessage(m.id);
    // no completeMessage: the process is gone; what was committed is all there is
    first.close();
    const second = openSqliteStore({ path: dbPath, secretKey: KEY });
    const { requeued } = second.recoverUnfinished({ maxAttempts: 2, reason: 'stopped', outboxFor: () => [] });
    expect(requeued.map((r) => r.text)).toEqual(['mid-turn']);
    expect(second.queuedMessages().map((r) => r.id)).toEqual([m.id]);
    second.close();
  });
});

describe('applyMigrations', () => {
  const now = () => '2024-01-01T00:00:00.000Z';
  let db: Database.Database;
  beforeEach(() => {
    db = new Database(':memory:');
  });
  afterEach(() => db.close());

  // Written against MIGRATIONS so that adding a migration does not mean editing these tests.
  const ALL = MIGRATIONS.map((m) => m.name);

  it('applies every migration once, recorded by name, and skips applied ones', () => {
    expect(ALL.slice(0, 3)).toEqual([
      '0001_initial',
      '0002_audit_append_only',
      '0003_usage_sessions_and_time',
    ]);
    expect(applyMigrations(db, now)).toEqual(ALL);
    expect(applyMigrations(db, now)).toEqual([]);
    expect(readMigrations(db)).toEqual(
      MIGRATIONS.map((m) => ({ id: m.id, name: m.name, applied_at: now() })),
    );
  });

  it('upgrades an older database by applying only what is missing', () => {
    expect(applyMigrations(db, now, MIGRATIONS.slice(0, 1))).toEqual(['0001_initial']);
    expect(applyMigrations(db, now)).toEqual(ALL.slice(1));
  });

  it('rolls back a failing migration batch entirely', () => {
    const broken = [
      ...MIGRATIONS,
      { id: 3, name: '0003_broken', sql: 'CREATE TABLE t (a); SELECT * FROM nope;' },
    ];
    expect(() => applyMigrations(db, now, broken)).toThrow(/no such table: nope/);
    expect(readMigrations(db)).toEqual([]);
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'agents'")
      .all();
    expect(tables).toEqual([]);
  });
});
