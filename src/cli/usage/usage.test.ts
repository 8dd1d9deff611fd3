// The usage report's arithmetic and the --since forms, without a CLI process (the e2e test runs the command).
import { describe, expect, it } from 'vitest';
import { buildReport, reportTable } from './report.ts';
import { parseSince } from './since.ts';

const NOW = new Date('2026-11-10T12:00:00.000Z');
const total = (
  agent: string,
  model: string,
  inputTokens: number,
  outputTokens: number,
  cacheReadTokens = 0,
) => ({
  agent,
  provider: 'p',
  model,
  calls: 1,
  usage: { inputTokens, outputTokens, cacheReadTokens, cacheWriteTokens: 0 },
});

describe('parseSince', () => {
  it('reads spans, dates and timestamps', () => {
    expect(parseSince('24h', NOW).toISOString()).toBe('2026-11-09T12:00:00.000Z');
    expect(parseSince('7d', NOW).toISOString()).toBe('2026-11-03T12:00:00.000Z');
    expect(parseSince('90m', NOW).toISOString()).toBe('2026-11-10T10:30:00.000Z');
    expect(parseSince('2026-11-01', NOW).toISOString()).toBe('2026-11-01T00:00:00.000Z');
    expect(parseSince('2026-11-01T06:00:00+02:00', NOW).toISOString()).toBe('2026-11-01T04:00:00.000Z');
  });
  it('refuses anything else with the accepted forms', () => {
    for (const bad of ['yesterday', '7', '-1d', '2026-13-45', '1y'])
      expect(() => parseSince(bad, NOW), bad).toThrow(/cannot read --since/);
  });
});

describe('buildReport', () => {
  const prices = { 'p:known': { input: 1, output: 2, cacheRead: 0.1 } };
  const window = { since: new Date(0), until: NOW };
  it('prices rows and totals them', () => {
    const r = buildReport(
      [total('a', 'known', 1_000_000, 500_000, 1_000_000), total('b', 'known', 0, 1_000_000)],
      prices,
      window,
    );
    expect(r.rows.map((x) => x.costUsd)).toEqual([2.1, 2]);
    expect(r.total).toMatchObject({
      calls: 2,
      inputTokens: 1_000_000,
      outputTokens: 1_500_000,
      costUsd: 4.1,
    });
    expect(r.unpriced).toEqual([]);
  });
  it('leaves an unpriced model and the total unknown, never zero', () => {
    const r = buildReport([total('a', 'known', 1_000_000, 0), total('a', 'mystery', 5, 5)], prices, window);
    expect(r.rows.map((x) => x.costUsd)).toEqual([1, null]);
    expect(r.total.costUsd).toBeNull();
    expect(r.total.pricedCostUsd).toBe(1);
    expect(r.unpriced).toEqual(['p:mystery']);
    const table = reportTable(r);
    expect(table.map((row) => row['cost'])).toEqual(['$1.00', '?', '$1.00 + ?']);
    expect(table.at(-1)).toMatchObject({ agent: 'TOTAL', input: '1,000,005' });
  });
});
