// Tampering with the audit table in the database file, as an attacker with file access would (a second
// connection, the append-only triggers dropped first): verify names the first bad entry, an anchor catches a
// truncated or rewritten tail, and the CLI's show/export/anchor/verify work on the same file.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildProgram } from '../cli/main.ts';
import type { CliContext } from '../cli/context.ts';
import { resolveHome } from '../config/home.ts';
import { openStore } from '../host/open.ts';
import { createLogger } from '../util/log.ts';
import { hashEntry } from './chain.ts';
import { toOcsf } from './ocsf.ts';

let home: ReturnType<typeof resolveHome>;
beforeEach(() => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-tamper-'));
  home = resolveHome({ CORRAL_HOME: root });
  fs.writeFileSync(home.configFile, 'version: 1\nproviders: {}\n');
  fs.writeFileSync(home.keyFile, crypto.randomBytes(32), { mode: 0o600 });
  const store = openStore(home);
  for (let i = 1; i <= 8; i++)
    store.appendAudit({
      actor: i % 2 ? 'agent:helper' : 'host',
      action: i % 3 ? 'egress.allow' : 'tool.call',
      subject: i % 2 ? 'pypi.org:443' : 'helper',
      detail: { n: i, sessionId: i < 5 ? 's-1' : 's-2' },
    });
  store.close();
});
afterEach(() => fs.rmSync(home.root, { recursive: true, force: true }));

/** The attacker: a plain connection to the file, append-only triggers gone. */
function tamper(sql: string): void {
  const db = new Database(home.dbFile);
  db.exec('DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete;');
  db.exec(sql);
  db.close();
}

async function cli(...args: string[]): Promise<{ out: string; err: string; code: number }> {
  let out = '';
  let err = '';
  const ctx: CliContext = {
    home,
    log: createLogger({ level: 'error' }),
    out: (t) => (out += t),
    err: (t) => (err += t),
  };
  try {
    await buildProgram(ctx).parseAsync(['node', 'corral', ...args]);
    return { out, err, code: 0 };
  } catch (e) {
    return { out, err: err + (e instanceof Error ? e.message : String(e)), code: 1 };
  }
}

const verdict = () => {
  const s = openStore(home);
  try {
    return s.verifyAudit();
  } finally {
    s.close();
  }
};

describe('audit tampering in the database file', () => {
  it('an intact chain verifies', () => {
    expect(verdict()).toEqual({ ok: true, count: 8 });
  });

  it.each([
    ['an edited detail', `UPDATE audit SET detail = '{"n":99}' WHERE seq = 4`, 4, /edited/],
    ['an edited actor', `UPDATE audit SET actor = 'operator' WHERE seq = 6`, 6, /edited/],
    ['a deleted row', 'DELETE FROM audit WHERE seq = 3', 3, /sequence gap/],
    ['a deleted row, later ones renumbered', 'DELETE FROM audit WHERE seq = 3; ' + [4, 5, 6, 7, 8].map((n) => `UPDATE audit SET seq = ${n - 1} WHERE seq = ${n};`).join(' '), 3, /prevHash/],
    ['two rows swapped', 'UPDATE audit SET seq = -5 WHERE seq = 5; UPDATE audit SET seq = 5 WHERE seq = 6; UPDATE audit SET seq = 6 WHERE seq = -5;', 5, /prevHash/],
  ])('%s is found, and verify names the first bad entry', (_what, sql, first, reason) => {
    tamper(sql);
    const v = verdict();
    expect(v.ok).toBe(false);
    if (!v.ok) {
      expect(v.brokenAt).toBe(first);
      expect(v.reason).toMatch(reason);
    }
  }); // prettier-ignore

  it('a truncated or rewritten tail passes the chain but not the anchor', async () => {
    const anchorFile = path.join(home.root, 'head.json');
    expect((await cli('audit', 'anchor', '--out', anchorFile)).code).toBe(0);
    expect(JSON.parse(fs.readFileSync(anchorFile, 'utf8'))).toMatchObject({ seq: 8 });
    expect((await cli('audit', 'verify', '--anchor', anchorFile)).out).toMatch(/8 entries, anchored entry 8 present/);
    tamper('DELETE FROM audit WHERE seq >= 7');
    expect((await cli('audit', 'verify')).code).toBe(0); // the chain alone cannot see a cut tail
    const cut = await cli('audit', 'verify', '--anchor', anchorFile);
    expect(cut.code).toBe(1);
    expect(cut.err).toMatch(/entry 8 .* is gone: rows were removed from the end/);
    // an attacker who re-hashes everything from entry 6 on still cannot match the anchor's entry
    const db = new Database(home.dbFile);
    const head: unknown = db.prepare('SELECT hash FROM audit WHERE seq = 5').get();
    let prev = head !== null && typeof head === 'object' && 'hash' in head ? String(head.hash) : '';
    db.prepare('DELETE FROM audit WHERE seq = 6').run();
    const at = new Date().toISOString();
    const insert = db.prepare(
      `INSERT INTO audit (seq, at, actor, action, subject, detail, prev_hash, hash)
       VALUES (?, ?, 'host', 'run.done', 'helper', '{}', ?, ?)`,
    );
    for (const seq of [6, 7, 8]) {
      const hash = hashEntry(prev, { seq, at, actor: 'host', action: 'run.done', subject: 'helper', detail: {} });
      insert.run(seq, at, prev, hash);
      prev = hash;
    }
    db.close();
    expect(verdict()).toEqual({ ok: true, count: 8 });
    const rewritten = await cli('audit', 'verify', '--anchor', anchorFile);
    expect(rewritten.err).toMatch(/entry 8 differs from the anchor/);
  }); // prettier-ignore

  it('show filters by agent, session, action and time; export writes jsonl and OCSF', async () => {
    const shown = await cli('audit', 'show', '--agent', 'helper', '--action', 'tool', '--session', 's-1', '--json');
    const rows: unknown = JSON.parse(shown.out);
    expect(rows).toEqual([expect.objectContaining({ seq: 3, action: 'tool.call' })]);
    expect(JSON.parse((await cli('audit', 'show', '--since', '1h', '--json')).out)).toHaveLength(8);
    expect(JSON.parse((await cli('audit', 'show', '--since', '2999-01-01', '--json')).out)).toHaveLength(0);
    const jsonl = (await cli('audit', 'export', '--format', 'jsonl', '--action', 'egress')).out.trim().split('\n');
    const actions = jsonl.map((l): unknown => JSON.parse(l)).map((e) => (typeof e === 'object' && e !== null && 'action' in e ? e.action : ''));
    expect(actions).toEqual(Array(jsonl.length).fill('egress.allow'));
    expect(jsonl).toHaveLength(6);
    const ocsf = (await cli('audit', 'export', '--format', 'ocsf')).out.trim().split('\n').map((l): unknown => JSON.parse(l));
    expect(ocsf).toHaveLength(8);
    expect(ocsf[0]).toMatchObject({
      class_uid: 4001,
      category_uid: 4,
      activity_id: 1,
      type_uid: 400101,
      metadata: { product: { name: 'corral' }, sequence: 1 },
      dst_endpoint: { hostname: 'pypi.org', port: 443 },
    });
    expect(ocsf[2]).toMatchObject({ class_uid: 6003, type_uid: 600303, api: { operation: 'tool.call' } });
  }); // prettier-ignore
});

describe('toOcsf', () => {
  it('maps a denial to a refused network event with failure status', () => {
    const e = { seq: 1, at: '2026-01-01T00:00:00.000Z', actor: 'agent:a', action: 'egress.deny', subject: '[::1]:80', detail: {}, prevHash: '0', hash: 'h' };
    expect(toOcsf(e, { version: 'x' })).toMatchObject({ activity_id: 5, type_uid: 400105, status_id: 2, dst_endpoint: { hostname: '::1', port: 80 } });
  }); // prettier-ignore
});
