// decideEgress: explicit rules, then the preset, then default deny; HTTP-level rules never allow a tunnel.
import { describe, expect, it } from 'vitest';
import { buildPolicy, decideEgress, DENY_ALL, globMatches } from './egress.ts';
import type { EgressRequest } from './egress.ts';

const req = (host: string, port = 443, method = 'CONNECT', path = ''): EgressRequest => ({
  host,
  port,
  method,
  path,
});
const get = (host: string, path: string, port = 80): EgressRequest => req(host, port, 'GET', path);

describe('decideEgress', () => {
  it('denies everything by default, naming why', () => {
    expect(decideEgress(DENY_ALL, req('pypi.org'))).toEqual({
      allow: false,
      reason: 'no allow rule matches (egress preset none)',
    });
  });

  it('allows hosts, wildcards and ports as written', () => {
    const p = buildPolicy('none', ['example.com', '*.corp.example', 'db.example.com:5432']);
    expect(decideEgress(p, req('example.com'))).toEqual({ allow: true, rule: 'example.com', literal: false });
    expect(decideEgress(p, req('EXAMPLE.com.', 80))).toMatchObject({ allow: true });
    expect(decideEgress(p, req('example.com', 22)).allow).toBe(false);
    expect(decideEgress(p, req('www.example.com')).allow).toBe(false);
    expect(decideEgress(p, req('a.b.corp.example'))).toMatchObject({ allow: true, rule: '*.corp.example' });
    expect(decideEgress(p, req('corp.example')).allow).toBe(false);
    expect(decideEgress(p, req('evilcorp.example')).allow).toBe(false);
    expect(decideEgress(p, req('db.example.com', 5432))).toMatchObject({ allow: true });
    expect(decideEgress(p, req('db.example.com', 443)).allow).toBe(false);
  });

  it('matches IP literal rules only on the literal, in any spelling, and marks them literal', () => {
    const p = buildPolicy('none', ['10.203.7.2:8080', '[fd00::1]:80']);
    expect(decideEgress(p, get('10.203.7.2', '/', 8080))).toEqual({
      allow: true,
      rule: '10.203.7.2:8080',
      literal: true,
    });
    expect(decideEgress(p, get('0x0acb0702', '/', 8080))).toMatchObject({ allow: true, literal: true });
    expect(decideEgress(p, get('[fd00:0::1]', '/', 80))).toMatchObject({ allow: true, literal: true });
    expect(decideEgress(p, get('10.203.7.3', '/', 8080)).allow).toBe(false);
  });

  it('applies HTTP-level rules to plain HTTP only', () => {
    const p = buildPolicy('none', ['GET api.example.com/v1/*', 'POST api.example.com/upload/**']);
    expect(decideEgress(p, get('api.example.com', '/v1/items'))).toMatchObject({ allow: true });
    expect(decideEgress(p, get('api.example.com', '/v1/items/3')).allow).toBe(false);
    expect(decideEgress(p, get('api.example.com', '/v2/items')).allow).toBe(false);
    expect(decideEgress(p, req('api.example.com', 80, 'POST', '/upload/a/b'))).toMatchObject({ allow: true });
    expect(decideEgress(p, req('api.example.com', 80, 'DELETE', '/v1/items')).allow).toBe(false);
    expect(decideEgress(p, get('api.example.com', '/v1/..%2Fadmin')).allow).toBe(false);
    expect(decideEgress(p, get('api.example.com', '/v1/..%5cadmin')).allow).toBe(false);
    expect(decideEgress(p, req('api.example.com'))).toEqual({
      allow: false,
      reason:
        'only HTTP-level rules match this host, and they cannot see inside CONNECT (egress preset none)',
    });
  });

  it('puts presets under explicit rules', () => {
    const pkgs = buildPolicy('packages', []);
    for (const host of [
      'deb.debian.org',
      'security.debian.org',
      'registry.npmjs.org',
      'pypi.org',
      'files.pythonhosted.org',
    ])
      expect(decideEgress(pkgs, req(host)), host).toMatchObject({ allow: true, rule: 'preset:packages' });
    expect(decideEgress(pkgs, req('example.com')).allow).toBe(false);
    expect(decideEgress(pkgs, req('pypi.org', 22)).allow).toBe(false);
    const web = buildPolicy('web', ['example.com:8443']);
    expect(decideEgress(web, req('anything.example'))).toMatchObject({ allow: true, rule: 'preset:web' });
    expect(decideEgress(web, req('example.com', 8443))).toMatchObject({ rule: 'example.com:8443' });
    expect(decideEgress(web, req('anything.example', 22)).allow).toBe(false);
  });

  it('fails closed on malformed requests', () => {
    const web = buildPolicy('web', []);
    expect(decideEgress(web, req('bad host'))).toEqual({ allow: false, reason: 'malformed host' });
    expect(decideEgress(web, req(''))).toEqual({ allow: false, reason: 'malformed host' });
    expect(decideEgress(web, req('example.com', 0))).toEqual({ allow: false, reason: 'malformed port' });
    expect(decideEgress(web, req('example.com', 1.5)).allow).toBe(false);
  });
});

describe('globMatches', () => {
  it('treats * as one segment and ** as any path', () => {
    expect(globMatches('/v1/*', '/v1/a')).toBe(true);
    expect(globMatches('/v1/*', '/v1/a/b')).toBe(false);
    expect(globMatches('/v1/**', '/v1/a/b')).toBe(true);
    expect(globMatches('/a.b', '/axb')).toBe(false);
    expect(globMatches('/x', '/x/')).toBe(false);
  });
});
