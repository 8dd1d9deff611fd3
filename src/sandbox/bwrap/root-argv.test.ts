// The two-stage command line for a sandbox on the base image: what runs with which identity, and where.
import { describe, expect, it } from 'vitest';
import type { SandboxSpec } from '../types.ts';
import { DEFAULT_LIMITS } from '../types.ts';
import { bwrapRootArgv } from './root-argv.ts';

const spec = (over: Partial<SandboxSpec> = {}): SandboxSpec => ({
  sandboxId: 's1',
  agent: 'a',
  workspaceDir: '/h/data/a/workspace',
  runtimeDir: '/h/cache/rt',
  gatewayDir: '/h/run/s1/gw',
  etcDir: '/h/run/s1/etc',
  root: { imageDir: '/h/images/x/rootfs', imageId: 'x', layerDir: '/h/data/a/layer' },
  hostIds: { uid: 1_500_000_007, gid: 1_500_000_007 },
  env: {},
  limits: DEFAULT_LIMITS,
  extraReadOnly: [],
  caBundle: '/h/run/s1/ca.pem',
  command: ['/usr/local/bin/node', '/opt/corral/runtime.cjs'],
  ...over,
});
const exists = (): boolean => true;
const MERGED = '/h/run/layers/abc';

/** [source, destination] of every bind of a kind, in one bwrap's part of the argv */
function binds(argv: string[], kind: string): [string, string][] {
  const out: [string, string][] = [];
  argv.forEach((a, i) => {
    if (a === kind) out.push([argv[i + 1] ?? '', argv[i + 2] ?? '']);
  });
  return out;
}

function split(argv: string[]): { outer: string[]; inner: string[] } {
  const at = argv.indexOf('bwrap', 1);
  return { outer: argv.slice(0, at), inner: argv.slice(at) };
}

describe('bwrapRootArgv', () => {
  it('as root: the outer bwrap stages host paths; the agent uid, root of its own namespace, mounts its root', () => {
    const argv = bwrapRootArgv(spec(), MERGED, { exists });
    const { outer, inner } = split(argv);
    // nothing of the agent's tree is a mount target of the bwrap that runs as host root
    for (const [, dest] of [...binds(outer, '--bind'), ...binds(outer, '--ro-bind')]) {
      expect(
        dest.startsWith('/.corral/') ||
          ['/usr', '/etc/ld.so.cache', '/etc/ld.so.conf', '/etc/ld.so.conf.d'].includes(dest),
      ).toBe(true);
    }
    expect(binds(outer, '--bind')).toEqual([
      [MERGED, '/.corral/root'],
      ['/h/data/a/workspace', '/.corral/workspace'],
    ]);
    expect(outer.join(' ')).toMatch(
      /-- setpriv --reuid 1500000007 --regid 1500000007 --clear-groups --bounding-set -all --inh-caps -all --no-new-privs -- prlimit .*--nproc=512 --$/,
    );
    expect(outer).not.toContain('--unshare-user');
    // /etc readable by the agent's uid, made before anything is bound into it (bwrap as root would make it 0700)
    expect(outer.join(' ')).toMatch(/--perms 0755 --dir \/etc --ro-bind /);
    expect(outer.indexOf('/etc')).toBeLessThan(outer.indexOf('/etc/ld.so.cache'));
    expect(inner.slice(0, 7)).toEqual([
      'bwrap',
      '--unshare-user',
      '--uid',
      '0',
      '--gid',
      '0',
      '--disable-userns',
    ]);
    expect(binds(inner, '--bind')).toEqual([
      ['/.corral/root', '/'],
      ['/proc', '/proc'],
      ['/.corral/workspace', '/workspace'],
    ]);
    expect(binds(inner, '--ro-bind')).toEqual([
      ['/proc/sys', '/proc/sys'],
      ['/.corral/runtime', '/opt/corral'],
      ['/.corral/gateway', '/run/corral'],
      ['/.corral/etc-hosts', '/etc/hosts'],
      ['/.corral/ca.crt', '/etc/ssl/certs/ca-certificates.crt'],
    ]);
    expect(inner.join(' ')).toContain('--cap-drop ALL -- /usr/local/bin/node /opt/corral/runtime.cjs');
  });

  it('as an ordinary user: the outer bwrap has a user namespace that still allows the inner one', () => {
    const { outer, inner } = split(bwrapRootArgv(spec({ hostIds: undefined }), MERGED, { exists }));
    expect(outer).toContain('--unshare-user');
    expect(outer).not.toContain('--disable-userns');
    expect(outer).not.toContain('setpriv');
    expect(outer.join(' ')).toMatch(/--cap-drop ALL -- prlimit /);
    expect(outer.join(' ')).not.toContain('--nproc');
    expect(inner).toContain('--disable-userns');
  });

  it('refuses to expose a host directory that must never be bound', () => {
    expect(() => bwrapRootArgv(spec({ extraReadOnly: ['/etc'] }), MERGED, { exists })).toThrow(/refusing/);
  });
});
