// --allow/--disallow/--egress applied to an agent's egress fields, validated before anything is written.
import { describe, expect, it } from 'vitest';
import { nextEgress } from './egress-change.ts';

const none = { egress: 'none' as const, allow: [] };

describe('nextEgress', () => {
  it('adds, removes and sets the preset, without duplicates', () => {
    const a = nextEgress(none, {
      allow: ['pypi.org', 'pypi.org', '10.0.0.5:8080'],
      disallow: [],
      egress: 'packages',
    });
    expect(a).toEqual({ egress: 'packages', allow: ['pypi.org', '10.0.0.5:8080'] });
    expect(nextEgress(a, { allow: [], disallow: ['pypi.org'] })).toEqual({
      egress: 'packages',
      allow: ['10.0.0.5:8080'],
    });
  });

  it('refuses bad patterns, unknown presets and removing what is not there', () => {
    expect(() => nextEgress(none, { allow: ['*'], disallow: [] })).toThrow(/--allow .*every host/);
    expect(() => nextEgress(none, { allow: ['http://x.org'], disallow: [] })).toThrow(/without a scheme/);
    expect(() => nextEgress(none, { allow: [], disallow: [], egress: 'all' })).toThrow(/none, packages, web/);
    expect(() => nextEgress(none, { allow: [], disallow: ['pypi.org'] })).toThrow(
      /no such allow pattern: pypi.org/,
    );
  });
});
