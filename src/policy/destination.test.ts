// checkDestination: one resolution through an injected resolver (no traffic, no real DNS), every answer checked.
import { describe, expect, it } from 'vitest';
import { checkDestination } from './destination.ts';
import type { ResolvedAddress } from './destination.ts';
import { parseIp } from './ip.ts';

const byName: Record<string, ResolvedAddress[]> = {
  'public.test': [{ address: '93.184.215.14', family: 4 }],
  'public6.test': [{ address: '2606:4700::1111', family: 6 }],
  'loop.test': [{ address: '127.0.0.1', family: 4 }],
  'mixed.test': [
    { address: '93.184.215.14', family: 4 },
    { address: '10.0.0.7', family: 4 },
  ],
  'mapped.test': [{ address: '::ffff:127.0.0.1', family: 6 }],
  'meta.test': [{ address: '169.254.169.254', family: 4 }],
  'self.test': [{ address: '198.199.0.7', family: 4 }],
  'empty.test': [],
};
let lookups = 0;
const deps = {
  resolve: (host: string): Promise<ResolvedAddress[]> => {
    lookups++;
    const found = byName[host];
    return found
      ? Promise.resolve(found)
      : Promise.reject(Object.assign(new Error('nx'), { code: 'ENOTFOUND' }));
  },
  localAddresses: () => [parseIp('198.199.0.7') ?? { family: 4 as const, bytes: [] }],
};
const viaName = { allow: true as const, rule: 'preset:web', literal: false };
const viaLiteral = { allow: true as const, rule: '10.0.0.7:80', literal: true };

describe('checkDestination', () => {
  it('returns the checked address, resolving a name exactly once', async () => {
    lookups = 0;
    expect(await checkDestination('public.test', viaName, deps)).toEqual({
      ok: true,
      address: '93.184.215.14',
      family: 4,
    });
    expect(await checkDestination('public6.test', viaName, deps)).toMatchObject({ ok: true, family: 6 });
    expect(lookups).toBe(2);
  });

  it.each([
    ['loop.test', /127.0.0.1, a loopback/],
    ['mixed.test', /10.0.0.7, a private/],
    ['mapped.test', /loopback address, embedded in IPv6/],
    ['meta.test', /metadata/],
    ['self.test', /host's own/],
    ['empty.test', /no address/],
    ['missing.test', /cannot resolve missing.test \(ENOTFOUND\)/],
  ])('refuses %s', async (host, reason) => {
    const d = await checkDestination(host, viaName, deps);
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.reason).toMatch(reason);
  });

  it('refuses private literals unless an explicit IP rule allowed them, and never resolves a literal', async () => {
    lookups = 0;
    expect(await checkDestination('10.0.0.7', viaName, deps)).toMatchObject({ ok: false });
    expect(await checkDestination('[::1]', viaName, deps)).toMatchObject({ ok: false });
    expect(await checkDestination('2130706433', viaName, deps)).toMatchObject({ ok: false });
    expect(await checkDestination('10.0.0.7', viaLiteral, deps)).toEqual({
      ok: true,
      address: '10.0.0.7',
      family: 4,
    });
    expect(lookups).toBe(0);
  });
});
