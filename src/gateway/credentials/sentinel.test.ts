// Sentinels are stable for one key, distinct per agent and per secret, and reveal neither key nor value.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createSentinels, SENTINEL_PREFIX } from './sentinel.ts';

describe('sentinels', () => {
  const key = randomBytes(32);

  it('are stable across instances built from the same key (sandbox restarts, host restarts)', () => {
    expect(createSentinels(key)('alice', 'GH')).toBe(createSentinels(Buffer.from(key))('alice', 'GH'));
  });

  it('differ per agent, per secret and per install key, with no ambiguity from the separator', () => {
    const s = createSentinels(key);
    const all = [
      s('alice', 'GH'),
      s('bob', 'GH'),
      s('alice', 'NPM'),
      createSentinels(randomBytes(32))('alice', 'GH'),
      s('a', 'liceGH'),
    ];
    expect(new Set(all).size).toBe(all.length);
  });

  it('look like an opaque token that carries neither the key nor the names', () => {
    const v = createSentinels(key)('alice', 'GH');
    expect(v).toMatch(new RegExp(`^${SENTINEL_PREFIX}[0-9a-f]{40}$`));
    expect(v).not.toContain(key.toString('hex').slice(0, 8));
    expect(v).not.toContain('alice');
  });
});
