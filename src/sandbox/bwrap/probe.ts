// Can bubblewrap build a sandbox on this host? Says what is missing and the one command that fixes it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import type { Availability } from '../types.ts';

const PROBE_TIMEOUT_MS = 10_000;

/** The smallest useful sandbox: new namespaces, /usr read-only, /bin/true. Also the benchmark's baseline. */
export const TRIVIAL_SANDBOX_ARGS = [
  '--unshare-all',
  '--die-with-parent',
  '--ro-bind',
  '/usr',
  '/usr',
  '--symlink',
  'usr/bin',
  '/bin',
  '--symlink',
  'usr/lib',
  '/lib',
  '--symlink',
  'usr/lib64',
  '/lib64',
  '--',
  '/bin/true',
];

function runs(cmd: string, args: string[]): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    timeout: PROBE_TIMEOUT_MS,
    env: { PATH: '/usr/bin:/bin' },
  });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error?.message ?? ''}`.trim() };
}

function readSysctl(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

export function installHint(pkg: string): string {
  const sudo = process.getuid?.() === 0 ? '' : 'sudo ';
  return `${sudo}apt-get install -y ${pkg}`;
}

export function probeBwrap(isRoot: boolean, bwrap = 'bwrap'): Availability {
  const version = runs(bwrap, ['--version']);
  if (!version.ok) {
    return { ok: false, reason: 'bubblewrap (bwrap) is not installed', fix: installHint('bubblewrap') };
  }
  if (isRoot) {
    for (const tool of ['setpriv', 'unshare', 'prlimit']) {
      if (!runs(tool, ['--version']).ok) {
        return { ok: false, reason: `${tool} (util-linux) is missing`, fix: installHint('util-linux') };
      }
    }
  }
  const trial = runs(bwrap, TRIVIAL_SANDBOX_ARGS);
  if (!trial.ok) {
    if (readSysctl('/proc/sys/kernel/apparmor_restrict_unprivileged_userns') === '1') {
      return {
        ok: false,
        reason: `bwrap cannot create a user namespace: AppArmor restricts unprivileged user namespaces (${trial.out})`,
        fix: 'sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 (or install an AppArmor profile for bwrap)',
      };
    }
    if (readSysctl('/proc/sys/kernel/unprivileged_userns_clone') === '0') {
      return {
        ok: false,
        reason: `bwrap cannot create a user namespace: kernel.unprivileged_userns_clone is 0 (${trial.out})`,
        fix: 'sudo sysctl -w kernel.unprivileged_userns_clone=1',
      };
    }
    return {
      ok: false,
      reason: `bwrap cannot start a sandbox: ${trial.out}`,
      fix: 'run: corral doctor, and check user namespaces',
    };
  }
  return { ok: true, detail: version.out };
}
