// The Store contract for usage totals over time windows (part of runStoreContract, kept apart for size).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Usage } from '../protocol/transcript.ts';
import type { StoreFactory } from './store.contract.ts';
import type { Store } from './types.ts';

const T0 = Date.parse('2026-11-01T00:00:00.000Z');
const HOUR = 3_600_000;
const at = (ms: number): string => new Date(T0 + ms).toISOString();
const u = (inputTokens: number, outputTokens: number, cacheReadTokens = 0, cacheWriteTokens = 0): Usage => ({
  inputTokens,
  outputTokens,
  cacheReadTokens,
  cacheWriteTokens,
});

export function runUsageContract(name: string, makeStore: StoreFactory): void {
  describe(`Store contract (usage totals): ${name}`, () => {
    let store: Store;
    let cleanup: () => void;
    let now = T0;
    beforeEach(() => {
      now = T0;
      ({ store, cleanup } = makeStore({ clock: () => new Date(now) }));
    });
    afterEach(() => cleanup());

    function record(agent: string, ms: number, provider: string, model: string, usage: Usage): void {
      now = T0 + ms;
      store.recordUsage({ agent, runId: null, provider, model, usage });
    }

    /** Two agents, two models, spread over two days. */
    function populate(): void {
      store.ensureAgent('a');
      store.ensureAgent('b');
      record('a', 0, 'anthropic', 'opus', u(10, 1, 100, 1000));
      record('a', HOUR, 'anthropic', 'opus', u(20, 2, 200, 2000));
      record('a', 2 * HOUR, 'openai', 'gpt', u(5, 5));
      record('b', 3 * HOUR, 'anthropic', 'opus', u(7, 7));
      record('a', 25 * HOUR, 'anthropic', 'opus', u(1, 1));
    }

    it('sums tokens and counts calls per agent, provider and model, in that order', () => {
      populate();
      expect(store.usageTotals()).toEqual([
        { agent: 'a', provider: 'anthropic', model: 'opus', calls: 3, usage: u(31, 4, 300, 3000) },
        { agent: 'a', provider: 'openai', model: 'gpt', calls: 1, usage: u(5, 5) },
        { agent: 'b', provider: 'anthropic', model: 'opus', calls: 1, usage: u(7, 7) },
      ]);
    });

    it('filters by agent and by a window with since inclusive and until exclusive', () => {
      populate();
      expect(store.usageTotals({ agent: 'b' })).toEqual([
        { agent: 'b', provider: 'anthropic', model: 'opus', calls: 1, usage: u(7, 7) },
      ]);
      // since = the second call exactly, until = the fourth exactly: calls 2 and 3
      expect(store.usageTotals({ since: at(HOUR), until: at(3 * HOUR) })).toEqual([
        { agent: 'a', provider: 'anthropic', model: 'opus', calls: 1, usage: u(20, 2, 200, 2000) },
        { agent: 'a', provider: 'openai', model: 'gpt', calls: 1, usage: u(5, 5) },
      ]);
      expect(store.usageTotals({ agent: 'a', since: at(24 * HOUR) })).toEqual([
        { agent: 'a', provider: 'anthropic', model: 'opus', calls: 1, usage: u(1, 1) },
      ]);
      expect(store.usageTotals({ agent: 'nobody' })).toEqual([]);
      expect(store.usageTotals({ since: at(26 * HOUR) })).toEqual([]);
    });

    it('keeps per-day sums that agree with the calls for day-aligned windows', () => {
      populate();
      for (const day of ['2026-10-31', '2026-11-01', '2026-11-02', '2026-11-03'])
        for (const agent of ['a', 'b', 'nobody'])
          expect(store.dailyUsageTotals({ agent, sinceDay: day }), `${agent} ${day}`).toEqual(
            store.usageTotals({ agent, since: `${day}T00:00:00.000Z` }),
          );
      expect(store.dailyUsageTotals({ agent: 'a', sinceDay: '2026-11-02' })).toEqual([
        { agent: 'a', provider: 'anthropic', model: 'opus', calls: 1, usage: u(1, 1) },
      ]);
      store.deleteAgent('a');
      expect(store.dailyUsageTotals({ agent: 'a', sinceDay: '2026-11-01' })).toEqual([]);
    });

    it('books usage on the session of its run, or on the session named', () => {
      store.ensureAgent('a');
      const s1 = store.openSession('a', 'one');
      const s2 = store.openSession('a', 'two');
      const m = store.recordMessage({ sessionId: s1.id, role: 'user', text: 'hi', status: 'received' });
      const run = store.startRun({ sessionId: s1.id, messageId: m.id });
      store.recordUsage({ agent: 'a', runId: run.id, provider: 'p', model: 'm', usage: u(1, 1) });
      store.recordUsage({
        agent: 'a',
        sessionId: s2.id,
        runId: null,
        provider: 'p',
        model: 'm',
        usage: u(2, 2),
      });
      store.recordUsage({ agent: 'a', runId: null, provider: 'p', model: 'm', usage: u(3, 3) });
      expect(store.listUsage('a').map((r) => [r.sessionId, r.runId])).toEqual([
        [s1.id, run.id],
        [s2.id, null],
        [null, null],
      ]);
      expect(store.usageTotals({ agent: 'a' })).toEqual([
        { agent: 'a', provider: 'p', model: 'm', calls: 3, usage: u(6, 6) },
      ]);
    });
  });
}
