// The host's budget check on real files and a real store: budgets and prices are read at each call, days and
// months are UTC, and anything unreadable refuses.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { saveAgent } from '../config/agent-files.ts';
import { saveConfig } from '../config/config-file.ts';
import type { HomePaths } from '../config/home.ts';
import { resolveHome } from '../config/home.ts';
import { AgentConfig, defaultConfig } from '../config/schema.ts';
import type { BudgetVerdict } from '../gateway/budget.ts';
import { openSqliteStore } from '../store/sqlite.ts';
import type { Store } from '../store/types.ts';
import { createBudgetCheck } from './budget-check.ts';

const M = 1_000_000;
let home: HomePaths;
let store: Store;
let now: Date;

beforeEach(() => {
  home = resolveHome({ CORRAL_HOME: fs.mkdtempSync(path.join(os.tmpdir(), 'corral-budget-')) });
  fs.mkdirSync(home.agentsDir, { recursive: true });
  saveConfig(home, { ...defaultConfig(), prices: { 'p:m': { input: 1, output: 3 } } });
  now = new Date('2026-11-10T12:00:00.000Z');
  store = openSqliteStore({ path: ':memory:', secretKey: randomBytes(32), clock: () => now });
  store.ensureAgent('x');
});
afterEach(() => {
  store.close();
  fs.rmSync(home.root, { recursive: true, force: true });
});

const spend = (model: string, inputTokens: number, outputTokens = 0): void =>
  store.recordUsage({
    agent: 'x',
    runId: null,
    provider: 'p',
    model,
    usage: { inputTokens, outputTokens, cacheReadTokens: 0, cacheWriteTokens: 0 },
  });
const messageOf = (v: BudgetVerdict): string => (v.ok ? 'allowed' : v.message);
const withBudget = (budget: AgentConfig['budget']): void =>
  saveAgent(home, AgentConfig.parse({ name: 'x', model: 'p:m', budget }));

describe('createBudgetCheck', () => {
  it('allows an agent without a budget whatever it spent', () => {
    withBudget(undefined);
    spend('m', 100 * M);
    expect(createBudgetCheck({ home, store, clock: () => now })('x')).toEqual({ ok: true });
  });

  it('refuses once today’s spend reaches the limit, and counts only today (UTC)', () => {
    withBudget({ usdPerDay: 4 });
    const check = createBudgetCheck({ home, store, clock: () => now });
    now = new Date('2026-11-09T23:59:59.000Z');
    spend('m', 10 * M); // yesterday: $10
    now = new Date('2026-11-10T00:00:00.000Z');
    spend('m', 1.02 * M, M); // today: $4.02
    expect(check('x')).toEqual({
      ok: false,
      message:
        'budget exhausted for agent x: $4.02 of $4.00 today; raise it with corral agent set x --budget-usd N/day',
    });
    withBudget({ usdPerDay: 5 }); // raised in the file: applies to the next call
    expect(check('x')).toEqual({ ok: true });
    saveConfig(home, { ...defaultConfig(), prices: { 'p:m': { input: 2, output: 3 } } }); // a price edit too
    expect(check('x').ok).toBe(false);
  });

  it('sums the calendar month for a monthly limit', () => {
    withBudget({ usdPerMonth: 10 });
    const check = createBudgetCheck({ home, store, clock: () => now });
    now = new Date('2026-10-31T23:00:00.000Z');
    spend('m', 9 * M); // last month
    now = new Date('2026-11-01T01:00:00.000Z');
    spend('m', 6 * M);
    now = new Date('2026-11-10T12:00:00.000Z');
    expect(check('x')).toEqual({ ok: true });
    spend('m', 4 * M);
    expect(messageOf(check('x'))).toContain('$10.00 of $10.00 this month');
  });

  it('fails closed on a missing agent file and on usage it cannot price', () => {
    const check = createBudgetCheck({ home, store, clock: () => now });
    expect(messageOf(check('ghost'))).toContain("unknown agent 'ghost'");
    withBudget({ usdPerDay: 100 });
    spend('unpriced', 1);
    expect(messageOf(check('x'))).toContain('no price for p:unpriced');
  });
});
