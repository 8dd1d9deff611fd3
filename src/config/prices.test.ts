// corral.yaml's price table: old files without it stay valid, new homes get defaults, bad keys are refused.
import { describe, expect, it } from 'vitest';
import { findPrice } from '../gateway/cost.ts';
import { Price, PriceTable, defaultPrices } from './prices.ts';
import { AgentConfig, CorralConfig, defaultConfig } from './schema.ts';

const OLD_FILE = {
  version: 1,
  providers: { anthropic: { kind: 'anthropic', baseUrl: 'https://api.anthropic.com', keySecret: 'K' } },
};

describe('prices in corral.yaml', () => {
  it('keeps a config written before prices existed valid, with an empty table', () => {
    expect(CorralConfig.parse(OLD_FILE).prices).toEqual({});
  });
  it('writes editable defaults for new homes that parse back unchanged', () => {
    const config = defaultConfig();
    expect(Object.keys(config.prices).length).toBeGreaterThan(5);
    expect(CorralConfig.parse(config)).toEqual(config);
  });
  it("gives well-known models their context window, so compaction starts near the model's own limit", () => {
    const window = (provider: string, model: string) =>
      findPrice(defaultPrices(), provider, model)?.contextWindow;
    expect(window('anthropic', 'claude-sonnet-4-5-20250929')).toBe(200_000);
    expect(window('anthropic', 'claude-haiku-4-5')).toBe(200_000);
    expect(window('openai', 'gpt-4o-mini')).toBe(128_000);
    expect(window('openai', 'gpt-5-mini')).toBe(400_000);
  });
  it('refuses keys with spaces or schemes and prices that are negative or have unknown fields', () => {
    expect(PriceTable.safeParse({ 'gpt 4': { input: 1, output: 1 } }).success).toBe(false);
    expect(PriceTable.safeParse({ 'https://x': { input: 1, output: 1 } }).success).toBe(false);
    expect(PriceTable.safeParse({ m: { input: -1, output: 1 } }).success).toBe(false);
    expect(PriceTable.safeParse({ m: { input: 1, output: 1, extra: 2 } }).success).toBe(false);
  });
  it('describes every price field', () => {
    for (const field of Object.values(Price.shape)) expect(field.description).toBeTruthy();
  });
});

describe('agent budgets', () => {
  const base = { name: 'a', model: 'anthropic:m' };
  it('are optional and accept any of the three limits', () => {
    expect(AgentConfig.parse(base).budget).toBeUndefined();
    expect(AgentConfig.parse({ ...base, budget: { usdPerDay: 4 } }).budget).toEqual({ usdPerDay: 4 });
    expect(AgentConfig.parse({ ...base, budget: { tokensPerDay: 1000, usdPerMonth: 50 } }).budget).toEqual({
      tokensPerDay: 1000,
      usdPerMonth: 50,
    });
  });
  it('refuse zero, negative, fractional token and unknown limits', () => {
    for (const budget of [{ usdPerDay: 0 }, { usdPerMonth: -1 }, { tokensPerDay: 1.5 }, { usdPerWeek: 1 }])
      expect(AgentConfig.safeParse({ ...base, budget }).success, JSON.stringify(budget)).toBe(false);
  });
});
