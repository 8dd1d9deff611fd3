import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, MIB } from '../types.ts';
import { isStaticElf } from './initramfs.ts';
import { dropcapsElf } from './dropcaps.ts';
import { runScript, shellQuote, vmScript } from './launch.ts';

const BUSYBOX = '/bin/busybox';
const hasBusybox = fs.existsSync(BUSYBOX) && isStaticElf(fs.readFileSync(BUSYBOX));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-launch-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The init's directory as the guest has it: busybox, dropcaps and busybox's applets on PATH. */
const guestDir = path.join(tmp, 'vm');
fs.mkdirSync(path.join(guestDir, 'bin'), { recursive: true });
fs.symlinkSync(BUSYBOX, path.join(guestDir, 'busybox'));
fs.writeFileSync(path.join(guestDir, 'dropcaps'), dropcapsElf(), { mode: 0o755 });
for (const applet of ['env', 'sh']) fs.symlinkSync(BUSYBOX, path.join(guestDir, 'bin', applet));
/** run.sh drops capabilities, so it needs some: root of a user namespace, as the guest's init is root */
const UNSHARE = '/usr/bin/unshare';
const userns = spawnSync(UNSHARE, ['-Ur', 'true']).status === 0;

/** Runs run.sh as the guest's init does: busybox's sh, with only busybox's applets on PATH. */
function runGuestStyle(script: string): { out: string; code: number | null } {
  const file = path.join(tmp, `run-${Math.random().toString(36).slice(2)}.sh`);
  fs.writeFileSync(file, script);
  const r = spawnSync(UNSHARE, ['-Ur', BUSYBOX, 'sh', file], {
    encoding: 'utf8',
    env: { PATH: path.join(guestDir, 'bin'), LEAK: 'x' },
  });
  return { out: r.stdout + r.stderr, code: r.status };
}

describe.skipIf(!hasBusybox || !userns)('runScript', () => {
  it('gives the command exactly its environment, values intact whatever they hold', () => {
    const tricky = `a 'quoted' "value" with $HOME, \`ticks\`, a ; semicolon\nand a newline`;
    const r = runGuestStyle(
      runScript(
        {
          limits: DEFAULT_LIMITS,
          env: { TRICKY: tricky, PATH: '/usr/bin:/bin' },
          command: [
            '/bin/sh',
            '-c',
            'printf "%s|" "$TRICKY"; env | grep -c LEAK; echo "$1"',
            'sh',
            "it's $1",
          ],
        },
        guestDir,
      ),
    );
    expect(r.out).toBe(`${tricky}|0\nit's $1\n`);
    expect(r.code).toBe(0);
  });

  it('applies the limits, drops every capability and sets no_new_privs before the command', () => {
    const r = runGuestStyle(
      runScript(
        {
          limits: { ...DEFAULT_LIMITS, maxOpenFiles: 321, maxFileBytes: 3 * MIB },
          env: {},
          command: [
            '/bin/sh',
            '-c',
            'grep -E "^(Max open files|Max file size|Max core file size)" /proc/self/limits; grep -E "^(NoNewPrivs|CapEff|CapBnd)" /proc/self/status',
          ],
        },
        guestDir,
      ),
    );
    expect(r.out).toMatch(/Max file size\s+3145728\s+3145728/);
    expect(r.out).toMatch(/Max open files\s+321\s+321/);
    expect(r.out).toMatch(/Max core file size\s+0\s+0/);
    expect(r.out).toMatch(/NoNewPrivs:\s+1/);
    expect(r.out).toMatch(/CapEff:\s+0{16}/);
    expect(r.out).toMatch(/CapBnd:\s+0{16}/);
  });

  it('refuses environment names and commands the guest could misread', () => {
    expect(() =>
      runScript({ limits: DEFAULT_LIMITS, env: { 'A B': '1' }, command: ['/bin/true'] }),
    ).toThrow();
    expect(() => runScript({ limits: DEFAULT_LIMITS, env: {}, command: ['X=1'] })).toThrow();
    expect(() => runScript({ limits: DEFAULT_LIMITS, env: {}, command: [] })).toThrow();
  });
});

describe('vmScript', () => {
  it('states the settings and binds the read-only extras at their quoted paths', () => {
    const s = vmScript(
      {
        limits: { ...DEFAULT_LIMITS, maxProcesses: 77 },
        caBundle: '/x/ca.pem',
        extraReadOnly: ["/opt/it's"],
      },
      { gateway: true, etcNames: ['hosts'] },
    );
    expect(s).toContain(`MAX_PROCS=77\nMEMORY_BYTES=${DEFAULT_LIMITS.memoryBytes}\nGATEWAY=1\n`);
    expect(s).toContain('bind_ro "$S/etc/hosts" /etc/hosts');
    expect(s).toContain(`bind_ro "$S/ca.crt" '/etc/ssl/certs/ca-certificates.crt'`);
    expect(s).toContain(`bind_ro "$S/extra-0" ${shellQuote("/opt/it's")}`);
    expect(() =>
      vmScript({ limits: DEFAULT_LIMITS, extraReadOnly: [] }, { gateway: false, etcNames: ['a b'] }),
    ).toThrow();
  });
});
