// The guest's capability drop, run on the host (the same x86-64 Linux ABI as the guest): as root of a user
// namespace it must leave the program it runs with no capability at all and no_new_privs set.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dropcapsElf } from './dropcaps.ts';
import { isStaticElf } from './initramfs.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-dropcaps-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const bin = path.join(tmp, 'dropcaps');
fs.writeFileSync(bin, dropcapsElf(), { mode: 0o755 });

const onX64 = process.arch === 'x64' && process.platform === 'linux';
const userns = onX64 && spawnSync('unshare', ['-Ur', 'true']).status === 0;

/** Runs argv as root of a fresh user namespace (full capabilities there), through dropcaps. */
function asNsRoot(...argv: string[]): { status: number | null; out: string } {
  const r = spawnSync('unshare', ['-Ur', bin, ...argv], { encoding: 'utf8' });
  return { status: r.status, out: r.stdout };
}

describe('dropcaps', () => {
  it('is a static executable (it runs from the initramfs, with no libc beside it)', () => {
    expect(isStaticElf(dropcapsElf())).toBe(true);
  });

  it.skipIf(!userns)('leaves the program no capability, no way to regain one and no_new_privs', () => {
    const before = spawnSync('unshare', ['-Ur', 'grep', '^CapBnd', '/proc/self/status'], {
      encoding: 'utf8',
    });
    expect(before.stdout).not.toMatch(/^CapBnd:\s+0+$/m);
    const r = asNsRoot('/bin/grep', '-E', '^(Cap|NoNewPrivs)', '/proc/self/status');
    expect(r.status).toBe(0);
    for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb'])
      expect(r.out).toMatch(new RegExp(`^${set}:\\s+0{16}$`, 'm'));
    expect(r.out).toMatch(/^NoNewPrivs:\s+1$/m);
    // uid 0 exec'ing again gets nothing back: the bounding set is empty
    const again = asNsRoot('/bin/sh', '-c', 'id -u; grep ^CapEff /proc/self/status');
    expect(again.out).toMatch(/^0\nCapEff:\s+0{16}\n$/);
  });

  it.skipIf(!userns)('passes arguments and the environment on unchanged', () => {
    const r = spawnSync('unshare', ['-Ur', bin, '/usr/bin/env', 'printf', '%s|', 'a b', ''], {
      encoding: 'utf8',
      env: { ONLY: 'this' },
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('a b||');
    const env = spawnSync('unshare', ['-Ur', bin, '/usr/bin/env'], {
      encoding: 'utf8',
      env: { ONLY: 'this' },
    });
    expect(env.stdout).toBe('ONLY=this\n');
  });

  it.skipIf(!onX64)(
    'fails closed: 126 without the capability to drop, 127 when the program is missing',
    () => {
      // without CAP_SETPCAP the bounding set cannot be emptied: the program must not run at all
      const weak =
        process.getuid?.() === 0
          ? spawnSync('setpriv', ['--bounding-set', '-all', '--inh-caps', '-all', bin, '/bin/true'])
          : spawnSync(bin, ['/bin/true']);
      expect(weak.status).toBe(126);
      expect(spawnSync(bin, []).status).toBe(126);
      if (userns) expect(asNsRoot('/nonexistent/program').status).toBe(127);
    },
  );
});
