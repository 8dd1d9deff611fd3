// Price lookup and cost: globs and specificity, cache tokens, and an unknown model that is never free.
import { describe, expect, it } from 'vitest';
import { defaultPrices } from '../config/prices.ts';
import { costUsd, findPrice, formatUsd, priceUsage, totalTokens } from './cost.ts';

const usage = (inputTokens: number, outputTokens: number, cacheReadTokens = 0, cacheWriteTokens = 0) => ({
  inputTokens,
  outputTokens,
  cacheReadTokens,
  cacheWriteTokens,
});
const M = 1_000_000;

describe('findPrice', () => {
  const table = {
    'gpt-4o*': { input: 2.5, output: 10 },
    'gpt-4o-mini*': { input: 0.15, output: 0.6 },
    'local:*': { input: 0, output: 0 },
    'gpt-4o-mini-2024-07-18': { input: 9, output: 9 },
    'proxy:gpt-4o*': { input: 3, output: 12 },
    'llama3.1:8b': { input: 0.1, output: 0.1 },
    '*-preview': { input: 7, output: 7 },
  };
  it('prefers exact keys, then longer globs, then the provider-qualified key', () => {
    expect(findPrice(table, 'openai', 'gpt-4o-2024-08-06')?.input).toBe(2.5);
    expect(findPrice(table, 'openai', 'gpt-4o-mini')?.input).toBe(0.15);
    expect(findPrice(table, 'openai', 'gpt-4o-mini-2024-07-18')?.input).toBe(9);
    expect(findPrice(table, 'proxy', 'gpt-4o')?.input).toBe(3);
    expect(findPrice(table, 'local', 'anything at all')?.input).toBe(0);
    expect(findPrice(table, 'anthropic', 'claude-x-preview')?.input).toBe(7);
  });
  it('matches a model name that itself contains a colon', () => {
    expect(findPrice(table, 'ollama', 'llama3.1:8b')?.input).toBe(0.1);
  });
  it('returns undefined for an unknown model, and a glob needs its literal parts in order', () => {
    expect(findPrice(table, 'openai', 'gpt-4')).toBeUndefined();
    expect(findPrice(table, 'openai', 'xgpt-4o')).toBeUndefined();
    expect(findPrice({ 'a*b*c': { input: 1, output: 1 } }, 'p', 'acb')).toBeUndefined();
    expect(findPrice({ 'a*b*c': { input: 1, output: 1 } }, 'p', 'a-b-c')?.input).toBe(1);
    expect(findPrice({ 'ab*ba': { input: 1, output: 1 } }, 'p', 'aba')).toBeUndefined();
  });
  it('prices well-known models by default, dated versions included', () => {
    const d = defaultPrices();
    expect(findPrice(d, 'anthropic', 'claude-sonnet-4-5-20250929')?.output).toBe(15);
    expect(findPrice(d, 'anthropic', 'claude-opus-4-5')?.input).toBe(5);
    expect(findPrice(d, 'anthropic', 'claude-opus-4-1')?.input).toBe(15);
    expect(findPrice(d, 'openai', 'gpt-4o-mini')?.input).toBe(0.15);
    expect(findPrice(d, 'openai', 'gpt-5-mini')?.input).toBe(0.25);
    expect(findPrice(d, 'ollama', 'llama3.1')).toBeUndefined();
  });
});

describe('costUsd', () => {
  it('charges each kind of token at its own price', () => {
    const price = { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 };
    expect(costUsd(price, usage(M, 0))).toBeCloseTo(3);
    expect(costUsd(price, usage(0, M))).toBeCloseTo(15);
    expect(costUsd(price, usage(0, 0, M))).toBeCloseTo(0.3);
    expect(costUsd(price, usage(0, 0, 0, M))).toBeCloseTo(3.75);
    expect(costUsd(price, usage(1000, 2000, 10_000, 4000))).toBeCloseTo(0.003 + 0.03 + 0.003 + 0.015);
  });
  it('charges cache tokens at the input price when the table has no cache prices', () => {
    expect(costUsd({ input: 2, output: 8 }, usage(0, 0, M, M))).toBeCloseTo(4);
  });
  it('leaves an unknown model unpriced, shown as ?, and a priced zero as $0.00', () => {
    expect(priceUsage({}, 'p', 'm', usage(1, 1))).toBeUndefined();
    expect(formatUsd(undefined)).toBe('?');
    expect(formatUsd(priceUsage({ 'p:m': { input: 0, output: 0 } }, 'p', 'm', usage(5, 5)))).toBe('$0.00');
    expect(formatUsd(4.0249)).toBe('$4.02');
    expect(formatUsd(0.00123)).toBe('$0.0012');
  });
  it('counts every kind of token toward token totals', () => {
    expect(totalTokens(usage(1, 2, 3, 4))).toBe(10);
  });
});
