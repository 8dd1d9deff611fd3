import crypto from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../store/sqlite.ts';
import type { Store } from '../store/types.ts';
import { createLogger } from '../util/log.ts';
import { createWriteBatcher } from './write-batch.ts';

const usage = { inputTokens: 3, outputTokens: 4, cacheReadTokens: 0, cacheWriteTokens: 0 };

describe('write batcher', () => {
  let store: Store;
  const lines: string[] = [];
  const log = createLogger({ level: 'error', write: (l) => void lines.push(l) });
  const open = (): Store => {
    store = openSqliteStore({ path: ':memory:', secretKey: crypto.randomBytes(32) });
    store.ensureAgent('a');
    return store;
  };
  afterEach(() => {
    store.close();
    lines.length = 0;
  });

  it('commits the records queued in one turn of the event loop together, in order, before settling', async () => {
    const writes = createWriteBatcher(open(), log);
    const pending = [1, 2, 3].map((i) => writes.audit({ actor: 't', action: `a.${i}`, subject: 's' }));
    pending.push(writes.usage({ agent: 'a', runId: null, provider: 'p', model: 'm', usage }));
    // nothing is written before the batch runs
    expect(store.listAudit()).toHaveLength(0);
    await Promise.all(pending);
    expect(writes.stats()).toEqual({ commits: 1, records: 4 });
    expect(store.listAudit().map((e) => e.action)).toEqual(['a.1', 'a.2', 'a.3']);
    expect(store.listUsage('a')).toHaveLength(1);
    expect(store.verifyAudit()).toEqual({ ok: true, count: 3 });
    await writes.audit({ actor: 't', action: 'a.4', subject: 's' });
    expect(writes.stats()).toEqual({ commits: 2, records: 5 });
  });

  it('fails only the record that cannot be written, and keeps the others', async () => {
    const writes = createWriteBatcher(open(), log);
    const good = writes.audit({ actor: 't', action: 'good', subject: 's' });
    const bad = writes.usage({ agent: 'nobody-here', runId: null, provider: 'p', model: 'm', usage });
    const alsoGood = writes.usage({ agent: 'a', runId: null, provider: 'p', model: 'm', usage });
    await expect(bad).rejects.toThrow(/nobody-here/);
    await expect(Promise.all([good, alsoGood])).resolves.toBeDefined();
    expect(store.listAudit().map((e) => e.action)).toEqual(['good']);
    expect(store.listUsage('a')).toHaveLength(1);
    expect(lines.join('')).toContain('could not be written');
  });

  it('flush() writes what is queued at once, so closing the store loses nothing', () => {
    const writes = createWriteBatcher(open(), log);
    void writes.audit({ actor: 't', action: 'last', subject: 's' });
    writes.flush();
    expect(store.listAudit().map((e) => e.action)).toEqual(['last']);
  });
});
