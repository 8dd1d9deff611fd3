// The swap: a sentinel becomes the value only on a bound host for an agent holding the grant; elsewhere it
// stays inert and is audited. Grants, bindings and values are read per request (revocation, rotation).
import { randomBytes } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../util/log.ts';
import type { GatewayDeps } from '../types.ts';
import { createSentinels } from './sentinel.ts';
import { hasBoundSecret, swapCredentials } from './swap.ts';

type Audit = Parameters<GatewayDeps['audit']>[0];

function world() {
  const sentinel = createSentinels(randomBytes(32));
  const grants = new Map<string, string[]>([['alice', ['GH', 'LOOSE']]]);
  const bindings = new Map<string, { hosts: string[]; header: string | null }>([
    ['GH', { hosts: ['api.github.test', '*.ghusercontent.test:443'], header: null }],
    ['NPM', { hosts: ['registry.npm.test'], header: 'Authorization: Bearer {}' }],
  ]);
  const secrets = new Map([
    ['GH', 'ghp_REAL_ONE'],
    ['NPM', 'npm_REAL'],
    ['LOOSE', 'loose_REAL'],
  ]);
  const audit: Audit[] = [];
  const deps: GatewayDeps = {
    providers: () => new Map(),
    readSecret: (n) => secrets.get(n),
    onUsage: () => undefined,
    audit: (e) => void audit.push(e),
    log: silentLogger,
    credentials: {
      grants: (a) => grants.get(a) ?? [],
      bindings: () => [...bindings].map(([name, b]) => ({ name, ...b })),
      sentinel,
    },
  };
  const ctx = (agent: string) => ({ agent, sandboxId: 'sb', deps });
  return { sentinel, grants, bindings, secrets, audit, ctx };
}

describe('swapCredentials', () => {
  let w: ReturnType<typeof world>;
  beforeEach(() => (w = world()));
  const gh = () => w.sentinel('alice', 'GH');

  it('swaps the sentinel on a bound host for a granted agent, in every header, and audits the use', () => {
    const r = swapCredentials(
      w.ctx('alice'),
      { host: 'api.github.test', port: 443, tls: true },
      { authorization: `token ${gh()}`, 'x-extra': [`a ${gh()}`, 'b'] },
      '/user',
    );
    expect(r.headers['authorization']).toBe('token ghp_REAL_ONE');
    expect(r.headers['x-extra']).toEqual(['a ghp_REAL_ONE', 'b']);
    expect(r.values).toEqual(['ghp_REAL_ONE']);
    expect(w.audit).toEqual([
      expect.objectContaining({ action: 'secret.inject', subject: 'api.github.test:443' }),
    ]);
    expect(JSON.stringify(w.audit)).not.toContain('REAL');
  });

  it('swaps inside Basic credentials, as git sends them', () => {
    const basic = `Basic ${Buffer.from(`x-access-token:${gh()}`).toString('base64')}`;
    const r = swapCredentials(
      w.ctx('alice'),
      { host: 'raw.ghusercontent.test', port: 443, tls: true },
      { authorization: basic },
      '/',
    );
    expect(Buffer.from(String(r.headers['authorization']).slice(6), 'base64').toString()).toBe(
      'x-access-token:ghp_REAL_ONE',
    );
  });

  it('leaves the sentinel inert on any other host or port, and audits sentinel_elsewhere', () => {
    for (const dest of [
      { host: 'evil.test', port: 443, tls: true },
      { host: 'api.github.test.evil.test', port: 443, tls: true },
      { host: 'x.ghusercontent.test', port: 8443, tls: true },
    ]) {
      const r = swapCredentials(w.ctx('alice'), dest, { authorization: `Bearer ${gh()}` }, '/');
      expect(r.headers['authorization']).toBe(`Bearer ${gh()}`);
      expect(r.values).toEqual([]);
      expect(hasBoundSecret(w.ctx('alice'), dest)).toBe(false);
    }
    expect(w.audit.map((a) => [a.action, a.detail?.['secret'], a.detail?.['reason']])).toEqual([
      ['secret.sentinel_elsewhere', 'GH', 'not bound to this host'],
      ['secret.sentinel_elsewhere', 'GH', 'not bound to this host'],
      ['secret.sentinel_elsewhere', 'GH', 'not bound to this host'],
    ]);
  });

  it('over plain HTTP only where the pattern names the port; a bare host means TLS only', () => {
    const plain = { host: 'api.github.test', port: 80, tls: false };
    const r = swapCredentials(w.ctx('alice'), plain, { authorization: gh() }, '/');
    expect(r.headers['authorization']).toBe(gh());
    expect(w.audit[0]?.detail?.['reason']).toBe('not bound to this host');
    w.bindings.set('GH', { hosts: ['api.github.test:80'], header: null });
    expect(
      swapCredentials(w.ctx('alice'), plain, { authorization: gh() }, '/').headers['authorization'],
    ).toBe('ghp_REAL_ONE');
  });

  it('a granted but unbound secret is never sent anywhere', () => {
    const loose = w.sentinel('alice', 'LOOSE');
    const r = swapCredentials(
      w.ctx('alice'),
      { host: 'api.github.test', port: 443, tls: true },
      { 'x-k': loose },
      '/',
    );
    expect(r.headers['x-k']).toBe(loose);
    expect(w.audit[0]?.action).toBe('secret.sentinel_elsewhere');
  });

  it("another agent's sentinel, or one without the grant, stays inert on the bound host", () => {
    const r = swapCredentials(
      w.ctx('bob'),
      { host: 'api.github.test', port: 443, tls: true },
      { a: gh(), b: w.sentinel('bob', 'GH') },
      '/',
    );
    expect(r.headers).toEqual({ a: gh(), b: w.sentinel('bob', 'GH') });
    expect(hasBoundSecret(w.ctx('bob'), { host: 'api.github.test', port: 443, tls: true })).toBe(false);
    expect(w.audit.map((a) => [a.action, a.detail?.['reason']])).toEqual([
      ['secret.sentinel_elsewhere', 'not granted to this agent'],
    ]);
  });

  it('sets the header template on a bound host, replacing what the client sent', () => {
    w.grants.set('alice', ['NPM']);
    const r = swapCredentials(
      w.ctx('alice'),
      { host: 'registry.npm.test', port: 443, tls: true },
      { authorization: 'Bearer forged' },
      '/',
    );
    expect(r.headers['authorization']).toBe('Bearer npm_REAL');
    expect(r.values).toEqual(['npm_REAL']);
  });

  it('never replaces a sentinel in the URL, and audits it', () => {
    swapCredentials(w.ctx('alice'), { host: 'api.github.test', port: 443, tls: true }, {}, `/?token=${gh()}`);
    expect(w.audit[0]).toEqual(expect.objectContaining({ action: 'secret.sentinel_elsewhere' }));
  });

  it('revoking the grant or rotating the value applies to the very next request', () => {
    const dest = { host: 'api.github.test', port: 443, tls: true };
    const send = () =>
      swapCredentials(w.ctx('alice'), dest, { authorization: gh() }, '/').headers['authorization'];
    expect(send()).toBe('ghp_REAL_ONE');
    w.secrets.set('GH', 'ghp_ROTATED');
    expect(send()).toBe('ghp_ROTATED');
    w.grants.set('alice', []);
    expect(send()).toBe(gh());
    expect(hasBoundSecret(w.ctx('alice'), dest)).toBe(false);
    w.grants.set('alice', ['GH']);
    w.bindings.delete('GH');
    expect(send()).toBe(gh());
  });
});
