// Tests for the audit hash chain: canonical JSON, the pinned hash format, and tamper detection.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson, checkLink, GENESIS, hashCanonicalEntry, hashEntry, verifyChain } from './chain.ts';
import type { ChainFields, ChainRecord, ChainVerdict } from './chain.ts';

/** The broken verdict's details; fails the test when the chain verified. */
function broken(verdict: ChainVerdict): { brokenAt: number; reason: string } {
  if (verdict.ok) throw new Error(`expected a broken chain, got ok with ${verdict.count} entries`);
  return { brokenAt: verdict.brokenAt, reason: verdict.reason };
}

function buildChain(n: number): ChainRecord[] {
  const out: ChainRecord[] = [];
  for (let seq = 1; seq <= n; seq++) {
    const fields: ChainFields = {
      seq,
      at: `2024-01-01T00:00:0${seq}.000Z`,
      actor: 'host',
      action: 'message.received',
      subject: `session:${seq}`,
      detail: { n: seq },
    };
    const prevHash = out.at(-1)?.hash ?? GENESIS;
    out.push({ ...fields, prevHash, hash: hashEntry(prevHash, fields) });
  }
  return out;
}

describe('canonicalJson', () => {
  it('sorts keys recursively and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, 1, { z: 0, y: 'x' }], c: null } })).toBe(
      '{"a":{"c":null,"d":[3,1,{"y":"x","z":0}]},"b":1}',
    );
  });

  it('sorts integer-like keys as strings, not in JS property order', () => {
    expect(canonicalJson({ b: 1, 10: 2, 9: 3 })).toBe('{"10":2,"9":3,"b":1}');
  });

  it('gives the same text for the same data in any key order', () => {
    expect(canonicalJson({ x: 1, y: [{ q: 1, p: 2 }] })).toBe(canonicalJson({ y: [{ p: 2, q: 1 }], x: 1 }));
  });

  it('follows JSON rules for undefined, non-finite numbers and toJSON', () => {
    expect(
      canonicalJson({ a: undefined, b: [undefined, NaN], c: new Date('2024-05-06T07:08:09.000Z') }),
    ).toBe('{"b":[null,null],"c":"2024-05-06T07:08:09.000Z"}');
  });

  it('is stable under a JSON round trip', () => {
    const text = canonicalJson({ big: 1e21, small: 1e-7, neg: -0, s: 'é\u2028"' });
    expect(canonicalJson(JSON.parse(text))).toBe(text);
  });

  it('refuses values with no JSON form and cycles', () => {
    expect(() => canonicalJson(undefined)).toThrow(TypeError);
    expect(() => canonicalJson({ n: 1n })).toThrow(TypeError);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => canonicalJson(cyclic)).toThrow(TypeError);
  });
});

describe('hashEntry', () => {
  it('is sha256 hex of the canonical entry including prevHash (pinned format)', () => {
    const fields: ChainFields = {
      seq: 1,
      at: '2024-01-01T00:00:00.000Z',
      actor: 'host',
      action: 'agent.create',
      subject: 'agent:a',
      detail: { b: 1, a: [true, null] },
    };
    const expected = createHash('sha256')
      .update(
        '{"action":"agent.create","actor":"host","at":"2024-01-01T00:00:00.000Z","detail":{"a":[true,null],"b":1},' +
          `"prevHash":"${'0'.repeat(64)}","seq":1,"subject":"agent:a"}`,
      )
      .digest('hex');
    expect(GENESIS).toBe('0'.repeat(64));
    expect(hashEntry(GENESIS, fields)).toBe(expected);
    expect(hashEntry(GENESIS, fields)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('changes with every field and with prevHash', () => {
    const base: ChainFields = { seq: 1, at: 't', actor: 'a', action: 'x', subject: 's', detail: {} };
    const h = hashEntry(GENESIS, base);
    expect(hashEntry('1'.repeat(64), base)).not.toBe(h);
    expect(hashEntry(GENESIS, { ...base, seq: 2 })).not.toBe(h);
    expect(hashEntry(GENESIS, { ...base, at: 'u' })).not.toBe(h);
    expect(hashEntry(GENESIS, { ...base, actor: 'b' })).not.toBe(h);
    expect(hashEntry(GENESIS, { ...base, action: 'y' })).not.toBe(h);
    expect(hashEntry(GENESIS, { ...base, subject: 't' })).not.toBe(h);
    expect(hashEntry(GENESIS, { ...base, detail: { k: 1 } })).not.toBe(h);
  });
});

describe('hashCanonicalEntry', () => {
  it('gives exactly hashEntry for the canonical form of the detail', () => {
    const details = [{}, { n: 1 }, { z: 'é\u2028"', a: [{ y: 1, x: null }], big: 1e21, neg: -0 }];
    for (const detail of details) {
      const fields = {
        seq: 42,
        at: '2024-01-01T00:00:00.000Z',
        actor: 'agent:a"b',
        action: 'egress.allow',
        subject: 'ü:1',
      };
      const expected = hashEntry(GENESIS, { ...fields, detail });
      expect(hashCanonicalEntry(GENESIS, fields, canonicalJson(detail))).toBe(expected);
    }
  });
});

describe('verifyChain', () => {
  it('accepts an intact chain and an empty one', () => {
    expect(verifyChain(buildChain(5))).toEqual({ ok: true, count: 5 });
    expect(verifyChain([])).toEqual({ ok: true, count: 0 });
  });

  it('detects an edited entry at its seq', () => {
    const chain = buildChain(5);
    chain[2] = { ...chain[2]!, detail: { n: 99 } };
    const { brokenAt, reason } = broken(verifyChain(chain));
    expect(brokenAt).toBe(3);
    expect(reason).toMatch(/edited/);
  });

  it('detects a deleted entry (sequence gap), also the first or a middle one', () => {
    const chain = buildChain(5);
    const middle = broken(verifyChain(chain.filter((e) => e.seq !== 3)));
    expect(middle.brokenAt).toBe(3);
    expect(middle.reason).toBe('sequence gap: expected seq 3, found 4 (a row was deleted or moved)');
    expect(broken(verifyChain(chain.slice(1))).brokenAt).toBe(1);
  });

  it('detects reordered entries, also when their seq numbers are swapped too', () => {
    const chain = buildChain(4);
    const [a, b, c, d] = [chain[0]!, chain[1]!, chain[2]!, chain[3]!];
    expect(broken(verifyChain([a, c, b, d])).brokenAt).toBe(2);
    expect(broken(verifyChain([a, { ...c, seq: 2 }, { ...b, seq: 3 }, d])).brokenAt).toBe(2);
  });

  it('detects an entry re-hashed after editing, because the next prevHash no longer matches', () => {
    const chain = buildChain(3);
    const edited = { ...chain[1]!, actor: 'mallory' };
    edited.hash = hashEntry(edited.prevHash, edited);
    const { brokenAt, reason } = broken(verifyChain([chain[0]!, edited, chain[2]!]));
    expect(brokenAt).toBe(3);
    expect(reason).toMatch(/prevHash/);
  });

  it('checkLink requires the first entry to start from GENESIS at seq 1', () => {
    const [first] = buildChain(1);
    expect(checkLink(null, first!)).toBeNull();
    expect(checkLink(null, { ...first!, prevHash: '1'.repeat(64) })).toMatch(/prevHash/);
  });
});
