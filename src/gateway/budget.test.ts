// Budget verdicts: USD per day and month, tokens per day, the exact refusal message, and unpriced usage.
import { describe, expect, it } from 'vitest';
import { judgeBudget, spendOf, utcDayStart, utcMonthStart } from './budget.ts';

const prices = { 'p:m': { input: 1, output: 3 } };
const M = 1_000_000;
const use = (model: string, inputTokens: number, outputTokens: number) => ({
  provider: 'p',
  model,
  usage: { inputTokens, outputTokens, cacheReadTokens: 0, cacheWriteTokens: 0 },
});

describe('judgeBudget', () => {
  const day = spendOf([use('m', 1.02 * M, M)], prices); // $1.02 + $3.00
  const month = spendOf([use('m', 10 * M, 10 * M)], prices); // $40

  it('refuses at or over the daily USD limit, with the spend, the limit and how to raise it', () => {
    expect(judgeBudget('x', { usdPerDay: 4 }, { day, month })).toEqual({
      ok: false,
      message:
        'budget exhausted for agent x: $4.02 of $4.00 today; raise it with corral agent set x --budget-usd N/day',
    });
    expect(judgeBudget('x', { usdPerDay: 4.02 }, { day, month }).ok).toBe(false);
    expect(judgeBudget('x', { usdPerDay: 5 }, { day, month })).toEqual({ ok: true });
  });
  it('judges the month against the month', () => {
    const v = judgeBudget('x', { usdPerDay: 100, usdPerMonth: 40 }, { day, month });
    expect(v.ok === false && v.message).toContain('$40.00 of $40.00 this month');
    expect(v.ok === false && v.message).toContain('--budget-usd N/month');
    expect(judgeBudget('x', { usdPerMonth: 41 }, { day, month }).ok).toBe(true);
  });
  it('counts tokens of every kind, priced or not', () => {
    const free = spendOf([use('unknown', 600, 500)], prices);
    expect(free.unpriced).toEqual(['p:unknown']);
    const v = judgeBudget('x', { tokensPerDay: 1000 }, { day: free, month: free });
    expect(v).toEqual({
      ok: false,
      message:
        'budget exhausted for agent x: 1,100 of 1,000 tokens today; raise it with corral agent set x --budget-tokens N/day',
    });
    expect(judgeBudget('x', { tokensPerDay: 1101 }, { day: free, month: free }).ok).toBe(true);
  });
  it('fails closed when a USD budget meets usage it cannot price', () => {
    const mixed = spendOf([use('m', 1, 1), use('mystery', 1, 1)], prices);
    const v = judgeBudget('x', { usdPerDay: 100 }, { day: mixed, month: mixed });
    expect(v.ok === false && v.message).toMatch(
      /cannot be checked: no price for p:mystery; add one under prices:/,
    );
  });
  it('allows anything without limits and with nothing spent', () => {
    const none = spendOf([], prices);
    expect(judgeBudget('x', {}, { day: none, month: none }).ok).toBe(true);
    expect(judgeBudget('x', { usdPerDay: 0.01, tokensPerDay: 1 }, { day: none, month: none }).ok).toBe(true);
  });
});

describe('UTC windows', () => {
  it('start at UTC midnight and on the first of the month', () => {
    const now = new Date('2026-11-17T23:59:59.999Z');
    expect(utcDayStart(now).toISOString()).toBe('2026-11-17T00:00:00.000Z');
    expect(utcMonthStart(now).toISOString()).toBe('2026-11-01T00:00:00.000Z');
  });
});
