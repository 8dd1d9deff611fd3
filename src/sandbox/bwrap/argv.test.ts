// The boundary as data: what the bwrap command line exposes, and what it must never expose.
import { describe, expect, it } from 'vitest';
import type { SandboxSpec } from '../types.ts';
import { DEFAULT_LIMITS } from '../types.ts';
import { bwrapArgv, checkExtraBind } from './argv.ts';

const spec = (over: Partial<SandboxSpec> = {}): SandboxSpec => ({
  sandboxId: 's1',
  agent: 'a',
  workspaceDir: '/h/ws/a',
  runtimeDir: '/h/cache/rt',
  gatewayDir: '/h/run/s1/gw',
  etcDir: '/h/run/s1/etc',
  hostIds: undefined,
  env: {},
  limits: DEFAULT_LIMITS,
  extraReadOnly: [],
  command: ['/usr/bin/node', '/opt/corral/runtime.cjs'],
  ...over,
});
const exists = (): boolean => true;

/** Pairs of (source, destination) for every bind mount of a kind. */
function binds(argv: string[], kind: string): [string, string][] {
  const out: [string, string][] = [];
  argv.forEach((a, i) => {
    if (a === kind) out.push([argv[i + 1] ?? '', argv[i + 2] ?? '']);
  });
  return out;
}

describe('bwrapArgv', () => {
  it('as an ordinary user: one user namespace, root inside, capabilities dropped, nested namespaces off', () => {
    const argv = bwrapArgv(spec(), { exists });
    expect(argv[0]).toBe('bwrap');
    for (const f of [
      '--unshare-pid',
      '--unshare-net',
      '--unshare-ipc',
      '--unshare-uts',
      '--unshare-user',
      '--die-with-parent',
      '--new-session',
      '--disable-userns',
    ])
      expect(argv).toContain(f);
    expect(argv.join(' ')).toContain('--cap-drop ALL --');
    expect(argv).not.toContain('setpriv');
  });

  it('as root: drops to the agent uid, then a fresh user namespace, capabilities emptied twice', () => {
    const argv = bwrapArgv(spec({ hostIds: { uid: 1_500_000_007, gid: 1_500_000_007 } }), { exists });
    const tail = argv.slice(argv.indexOf('--') + 1).join(' ');
    expect(tail).toMatch(
      /^setpriv --reuid 1500000007 --regid 1500000007 --clear-groups --bounding-set -all --inh-caps -all -- unshare --user --map-root-user -- setpriv --bounding-set -all --inh-caps -all --no-new-privs -- prlimit .*--nproc=512 -- \/usr\/bin\/node \/opt\/corral\/runtime.cjs$/,
    );
    expect(argv).not.toContain('--unshare-user');
  });

  it('binds exactly the workspace read-write and nothing of the host home', () => {
    const argv = bwrapArgv(spec(), { exists });
    expect(binds(argv, '--bind')).toEqual([['/h/ws/a', '/workspace']]);
    const ro = binds(argv, '--ro-bind').map(([src]) => src);
    expect(ro).toContain('/usr');
    expect(ro).toContain('/h/cache/rt');
    expect(ro).toContain('/h/run/s1/gw');
    for (const forbidden of ['/', '/etc', '/home', '/root', '/var']) expect(ro).not.toContain(forbidden);
    expect(
      ro.filter((p) => p.startsWith('/etc/')).every((p) => !p.includes('shadow') && !p.includes('passwd')),
    ).toBe(true);
  });

  it('skips system paths this host does not have', () => {
    const argv = bwrapArgv(spec(), { exists: (p) => p !== '/etc/ca-certificates' });
    expect(binds(argv, '--ro-bind').map(([s]) => s)).not.toContain('/etc/ca-certificates');
  });

  it('binds the CA bundle read-only over the system bundle, after /etc/ssl, and only when given', () => {
    expect(binds(bwrapArgv(spec(), { exists }), '--ro-bind').map(([, d]) => d)).not.toContain(
      '/etc/ssl/certs/ca-certificates.crt',
    );
    const argv = bwrapArgv(spec({ caBundle: '/h/run/s1/ca-bundle.crt' }), { exists });
    const ro = binds(argv, '--ro-bind');
    const at = ro.findIndex(
      ([s, d]) => s === '/h/run/s1/ca-bundle.crt' && d === '/etc/ssl/certs/ca-certificates.crt',
    );
    expect(at).toBeGreaterThan(ro.findIndex(([s]) => s === '/etc/ssl'));
    expect(binds(argv, '--bind').map(([s]) => s)).not.toContain('/h/run/s1/ca-bundle.crt');
    // /etc/ssl without a bundle: no mount point to bind onto, so no bind (bwrap would fail)
    const none = bwrapArgv(spec({ caBundle: '/h/b.crt' }), {
      exists: (p) => p !== '/etc/ssl/certs/ca-certificates.crt',
    });
    expect(binds(none, '--ro-bind').map(([s]) => s)).not.toContain('/h/b.crt');
  });

  it('refuses to expose top-level host directories, relative or unnormalised paths', () => {
    for (const p of ['/', '/etc', '/home', '/root', '/var', 'opt/node', '/opt/../etc', '/opt/node/'])
      expect(() => checkExtraBind(p), p).toThrow(/refusing to expose/);
    expect(() => checkExtraBind('/opt/node-v20')).not.toThrow();
    expect(() => bwrapArgv(spec({ extraReadOnly: ['/home'] }), { exists })).toThrow(/refusing/);
  });
});
