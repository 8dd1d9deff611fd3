// Compaction through `corral up` with a real bwrap sandbox: a small context window in the price table makes a
// conversation compact; the host stores the summary, audits it, and later requests carry it instead of the
// oldest turns, while the whole transcript stays in the store.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { defaultScript } from '../fixtures/model-server.ts';
import type { Script } from '../fixtures/model-server.ts';
import type { Up } from './daemon-harness.ts';
import { eventually, field, startUp, stopUp } from './daemon-harness.ts';
import { addProvider, createE2e, hasBwrap } from './harness.ts';

const MARKER = '<conversation to summarise>';
const SUMMARY = 'SUMMARY: numbered notes so far.';
const script: Script = (req) =>
  req.lastUserText?.startsWith(MARKER) === true ? { kind: 'text', text: SUMMARY } : defaultScript(req);
const note = (i: number): string => `note ${i}: ${'lorem ipsum dolor sit amet '.repeat(22)}`;

describe.skipIf(!hasBwrap)('compaction under corral up (bwrap)', () => {
  let e: Awaited<ReturnType<typeof createE2e>>;
  let up: Up;

  beforeAll(async () => {
    e = await createE2e({ script });
    await e.setup([
      [['init']],
      addProvider('stand', 'anthropic', e.modelUrl, 'STAND_KEY'),
      [['secret', 'set', 'STAND_KEY'], 'sk-stand-in-compaction-e2e-5a3d'],
      [['agent', 'add', 'alpha', '--model', 'stand:claude-test']],
    ]);
    const configFile = path.join(e.home, 'corral.yaml');
    const config: unknown = YAML.parse(fs.readFileSync(configFile, 'utf8'));
    if (typeof config !== 'object' || config === null) throw new Error('corral.yaml is not a map');
    fs.writeFileSync(
      configFile,
      YAML.stringify({
        ...config,
        compaction: { threshold: 0.5 },
        prices: { 'stand:claude-test': { input: 1, output: 1, contextWindow: 2000 } },
      }),
    );
    const agentFile = path.join(e.home, 'agents', 'alpha.yaml');
    const agent = fs.readFileSync(agentFile, 'utf8').replace(/^maxTokens:.*\n?/m, '');
    fs.writeFileSync(agentFile, `${agent.trimEnd()}\nmaxTokens: 100\n`);
    up = await startUp(e, ['--idle-timeout', '30s', '--grace', '10s']);
  });
  afterAll(async () => {
    await stopUp(up);
    await e?.close();
  });

  it('summarises older turns once the window fills, and keeps the whole transcript', async () => {
    for (let i = 1; i <= 5; i++) {
      const r = await up.api('POST', '/v1/agents/alpha/messages', { text: note(i), thread: 'long' });
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      const id = field(r.body, 'id');
      await eventually(async () => {
        const m = await up.api('GET', `/v1/messages/${id}`);
        const status = field(m.body, 'status');
        if (status === 'failed') throw new Error(JSON.stringify(m.body));
        return status === 'done' ? true : undefined;
      }, `note ${i}`);
    }
    const db = e.db();
    const rows = db.prepare('SELECT covers, summary FROM compactions').all();
    expect(rows.length).toBeGreaterThan(0);
    expect(rows[0]).toMatchObject({ summary: SUMMARY });
    const audited = db.prepare("SELECT COUNT(*) AS n FROM audit WHERE action = 'session.compact'").get();
    expect(audited).toEqual({ n: rows.length });
    const transcript = db
      .prepare(
        "SELECT COUNT(*) AS n FROM transcript t JOIN sessions s ON s.id = t.session_id WHERE s.key = 'api:long'",
      )
      .get();
    expect(transcript).toEqual({ n: 10 });
    const last = JSON.stringify(e.requests.at(-1)?.body);
    expect(last).toContain(SUMMARY);
    expect(last).toContain('note 5:');
    expect(last).not.toContain('note 1:');
  }, 240_000);
});
