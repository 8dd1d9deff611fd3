// The audit volume of a 1,000-turn load stays bounded (a fixed handful of rows per turn) and verify runs in
// seconds. The figures are printed for the report; nothing here asserts on time.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../store/sqlite.ts';

const TURNS = 1_000;

describe('audit volume', () => {
  it('1,000 turns: rows per turn bounded, the file size and verify time reported', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-volume-'));
    const file = path.join(dir, 'corral.db');
    const store = openSqliteStore({ path: file, secretKey: crypto.randomBytes(32) });
    try {
      for (let t = 0; t < TURNS; t++) {
        // what one turn with two tool calls and two egress requests writes today
        const runId = crypto.randomUUID();
        const sessionId = `s-${t % 20}`;
        store.appendAudit({ actor: 'user', action: 'message.received', subject: 'helper', detail: { messageId: runId, sessionId } });
        for (let c = 0; c < 2; c++)
          store.appendAudit({ actor: 'agent:helper', action: 'tool.call', subject: 'bash', detail: { runId, callId: `c${c}`, input: { command: `pip install pkg-${t}-${c}` } } });
        for (let c = 0; c < 2; c++)
          store.appendAudit({ actor: 'agent:helper', action: 'egress.allow', subject: 'pypi.org:443', detail: { sandboxId: 'sb', method: 'CONNECT', path: '', rule: 'preset:packages', address: '151.101.0.223' } });
        store.appendAudit({ actor: 'host', action: 'run.done', subject: 'helper', detail: { runId, messageId: runId, stopReason: 'end' } });
      } // prettier-ignore
      const started = performance.now();
      const verdict = store.verifyAudit();
      const verifyMs = performance.now() - started;
      const rows = verdict.ok ? verdict.count : -1;
      store.close();
      const bytes =
        fs.statSync(file).size + (fs.statSync(`${file}-wal`, { throwIfNoEntry: false })?.size ?? 0);
      process.stderr.write(
        `audit volume: ${TURNS} turns, ${rows} rows, ${bytes} bytes, verify ${verifyMs.toFixed(0)} ms\n`,
      );
      expect(verdict.ok).toBe(true);
      expect(rows).toBe(TURNS * 6);
      expect(bytes / TURNS).toBeLessThan(8 * 1024); // bounded: a few KiB per turn
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
