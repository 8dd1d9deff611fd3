// Usage and budgets end to end: real `corral run`s through the gateway, `corral usage --json` checked against
// the store, and a tiny budget that lets one run through and refuses the next before the model sees it.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { z } from 'zod';
import { addProvider, createE2e, hasBwrap } from './harness.ts';

const Count = z.number().int().nonnegative();
const Row = z.object({
  agent: z.string(),
  provider: z.string(),
  model: z.string(),
  calls: Count,
  inputTokens: Count,
  outputTokens: Count,
  cacheReadTokens: Count,
  cacheWriteTokens: Count,
  costUsd: z.number().nullable(),
});
const Report = z.object({
  since: z.string(),
  until: z.string(),
  rows: z.array(Row),
  total: Row.omit({ agent: true, provider: true, model: true }).extend({ pricedCostUsd: z.number() }),
  unpriced: z.array(z.string()),
});
const DbSums = z.object({ calls: Count, input: Count, output: Count });

/** $1000 per million tokens: one call of a few hundred tokens costs well over the tiny budget below. */
const STAND_PRICE = { input: 1000, output: 1000 };

describe.skipIf(!hasBwrap)('corral usage and budgets (bwrap)', () => {
  let e: Awaited<ReturnType<typeof createE2e>>;

  beforeAll(async () => {
    e = await createE2e();
    await e.setup([[['init']]]);
    const file = path.join(e.home, 'corral.yaml');
    const config = z.record(z.string(), z.unknown()).parse(parse(fs.readFileSync(file, 'utf8')));
    const prices = z.record(z.string(), z.unknown()).parse(config['prices']);
    expect(Object.keys(prices)).toContain('claude-sonnet-4*'); // init wrote the defaults
    fs.writeFileSync(file, stringify({ ...config, prices: { ...prices, 'stand:claude-test': STAND_PRICE } }));
    await e.setup([
      addProvider('stand', 'anthropic', e.modelUrl, 'STAND_KEY'),
      addProvider('standoai', 'openai', `${e.modelUrl}/v1`, 'STAND_KEY'),
      [['secret', 'set', 'STAND_KEY'], 'sk-usage'],
      [['agent', 'add', 'alpha', '--model', 'stand:claude-test']],
      [['agent', 'add', 'beta', '--model', 'standoai:gpt-test']],
    ]);
  });
  afterAll(async () => e?.close());

  it('reports tokens and cost per agent and model after real runs, an unpriced model as unknown', async () => {
    for (const [agent, text] of [
      ['alpha', 'hello'],
      ['alpha', 'bash: echo hi'],
      ['beta', 'hello'],
    ] as const) {
      const r = await e.corral(['run', agent, text]);
      expect(r.code, r.stderr).toBe(0);
    }
    const r = await e.corral(['usage', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = Report.parse(JSON.parse(r.stdout));
    const db = e.db();
    try {
      for (const row of report.rows) {
        const sums = DbSums.parse(
          db
            .prepare(
              `select count(*) as calls, sum(input_tokens) as input, sum(output_tokens) as output
               from usage where agent = ? and model = ?`,
            )
            .get(row.agent, row.model),
        );
        expect({ calls: row.calls, input: row.inputTokens, output: row.outputTokens }).toEqual(sums);
      }
    } finally {
      db.close();
    }
    const [alpha, beta] = report.rows;
    // a text reply is one model call, a bash tool call two; the stand-in saw exactly these
    expect(alpha).toMatchObject({ agent: 'alpha', provider: 'stand', model: 'claude-test', calls: 3 });
    expect(beta).toMatchObject({
      agent: 'beta',
      provider: 'standoai',
      model: 'gpt-test',
      calls: 1,
      costUsd: null,
    });
    expect(e.requests).toHaveLength(4);
    const expected = ((alpha?.inputTokens ?? 0) * 1000 + (alpha?.outputTokens ?? 0) * 1000) / 1e6;
    expect(alpha?.costUsd).toBeCloseTo(expected, 9);
    expect(alpha?.inputTokens).toBeGreaterThan(0);
    expect(report.total).toMatchObject({ calls: 4, costUsd: null });
    expect(report.total.pricedCostUsd).toBeCloseTo(expected, 9);
    expect(report.unpriced).toEqual(['standoai:gpt-test']);

    const one = Report.parse(JSON.parse((await e.corral(['usage', '--agent', 'beta', '--json'])).stdout));
    expect(one.rows.map((x) => x.agent)).toEqual(['beta']);
    const later = Report.parse(
      JSON.parse((await e.corral(['usage', '--since', '2999-01-01', '--json'])).stdout),
    );
    expect(later.rows).toEqual([]);
    const text = await e.corral(['usage', '--since', '7d']);
    expect(text.stdout).toMatch(/^AGENT +MODEL +CALLS/);
    expect(text.stdout).toMatch(/TOTAL +4 .* \$\d+\.\d+ \+ \?\n$/);
    expect(text.stderr).toContain('no price for standoai:gpt-test');
  });

  it('lets one run through a tiny budget, then refuses the next before the model is called', async () => {
    await e.setup([[['agent', 'add', 'tight', '--model', 'stand:claude-test', '--budget-usd', '0.05/day']]]);
    const first = await e.corral(['run', 'tight', 'hello']);
    expect(first.code, first.stderr).toBe(0);
    const seen = e.requests.length;

    const refused = await e.corral(['run', 'tight', 'hello again']);
    expect(refused.code).toBe(1);
    const lines = refused.stderr.trim().split('\n');
    expect(lines[0]).toMatch(/^corral: budget exhausted for agent tight: \$\d+\.\d\d of \$0\.05 today$/);
    expect(lines[1]).toBe('  → raise it with corral agent set tight --budget-usd N/day');
    expect(lines).toHaveLength(2);
    expect(e.requests).toHaveLength(seen); // the stand-in never heard of the refused run

    const db = e.db();
    try {
      const failed = db
        .prepare(
          "select m.error from messages m join sessions s on s.id = m.session_id where s.agent = 'tight' and m.status = 'failed'",
        )
        .all();
      expect(JSON.stringify(failed)).toContain('budget exhausted for agent tight');
    } finally {
      db.close();
    }

    // raised with the command the message names: the next run goes through without restarting anything
    await e.setup([[['agent', 'set', 'tight', '--budget-usd', '1000/day']]]);
    const again = await e.corral(['run', 'tight', 'hello once more']);
    expect(again.code, again.stderr).toBe(0);
    expect(e.requests).toHaveLength(seen + 1);
  });
});
