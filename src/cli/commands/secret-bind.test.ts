// Flag handling for bindings and grants, checked before anything is written.
import { describe, expect, it } from 'vitest';
import { sentinelEnv } from '../../host/sandbox-credentials.ts';
import { nextGrants } from './agent-set.ts';
import { bindingFrom } from './secret-bind.ts';

describe('secret set binding flags', () => {
  it('no flags keep the binding (a rotation), --unbind removes it, --host sets it', () => {
    expect(bindingFrom({ host: [] })).toBeUndefined();
    expect(bindingFrom({ host: [], unbind: true })).toBeNull();
    expect(
      bindingFrom({ host: ['API.x.test', '*.y.test:8443'], header: 'Authorization: Bearer {}' }),
    ).toEqual({
      hosts: ['api.x.test', '*.y.test:8443'],
      header: 'Authorization: Bearer {}',
    });
  });

  it('refuses contradictions and nonsense with a message naming the problem', () => {
    expect(() => bindingFrom({ host: [], header: 'A: {}' })).toThrow(/--header needs --host/);
    expect(() => bindingFrom({ host: ['x.test'], unbind: true })).toThrow(/--unbind cannot/);
    expect(() => bindingFrom({ host: ['*'] })).toThrow(/not a host name/);
    expect(() => bindingFrom({ host: ['x.test'], header: 'Authorization: Bearer' })).toThrow(/exactly once/);
  });
});

describe('grants', () => {
  it('adds, revokes, dedupes and sorts; refuses invalid names', () => {
    expect(nextGrants(['B'], ['A', 'B', 'C'], ['C'])).toEqual(['A', 'B']);
    expect(() => nextGrants([], ['not-valid'], [])).toThrow(/invalid secret name/);
  });

  it('become sentinels in the environment, never over reserved or start-up variables', () => {
    const creds = { sentinel: (a: string, s: string) => `S(${a},${s})`, caCertPem: '' };
    expect(sentinelEnv(creds, 'bob', ['GH', 'PATH', 'NODE_OPTIONS', 'LD_PRELOAD'], { PATH: '/bin' })).toEqual(
      {
        GH: 'S(bob,GH)',
      },
    );
  });
});
