// Reading --budget-usd and --budget-tokens into an agent's budget, and refusing what cannot be read.
import { describe, expect, it } from 'vitest';
import { describeBudget, nextBudget } from './agent-budget.ts';

const flags = (budgetUsd: string[], budgetTokens?: string) => ({
  budgetUsd,
  ...(budgetTokens === undefined ? {} : { budgetTokens }),
});

describe('nextBudget', () => {
  it('reads per-day (the default) and per-month USD and daily tokens', () => {
    expect(nextBudget(undefined, flags(['4']))).toEqual({ usdPerDay: 4 });
    expect(nextBudget(undefined, flags(['4.5/day', '100/month'], '200000/day'))).toEqual({
      usdPerDay: 4.5,
      usdPerMonth: 100,
      tokensPerDay: 200_000,
    });
    expect(nextBudget(undefined, flags([], '5000'))).toEqual({ tokensPerDay: 5000 });
  });
  it('changes only what is named and removes limits with off', () => {
    const current = { usdPerDay: 4, usdPerMonth: 100, tokensPerDay: 10 };
    expect(nextBudget(current, flags(['8/day']))).toEqual({ ...current, usdPerDay: 8 });
    expect(nextBudget(current, flags(['off']))).toEqual({ tokensPerDay: 10 });
    expect(nextBudget(current, flags(['off'], 'off'))).toBeUndefined();
  });
  it('refuses zero, negative, unknown periods and non-numbers', () => {
    for (const usd of ['0', '-1', '4/week', 'four', '4/day/month', ''])
      expect(() => nextBudget(undefined, flags([usd])), usd).toThrow(/cannot read --budget-usd/);
    for (const tokens of ['0', '1.5', '10/month', 'lots'])
      expect(() => nextBudget(undefined, flags([], tokens)), tokens).toThrow(/cannot read --budget-tokens/);
  });
  it('describes a budget in one phrase', () => {
    expect(describeBudget({ usdPerDay: 4, tokensPerDay: 200_000 })).toBe('budget $4/day, 200,000 tokens/day');
    expect(describeBudget(undefined)).toBe('no budget');
  });
});
