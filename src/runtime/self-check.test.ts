// The start self-test's rlimits where /proc/self/limits is missing (gVisor): Node's own report of getrlimit(2)
// must say what the kernel's file says.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const SELF_CHECK = new URL('./self-check.ts', import.meta.url).pathname;

/** rlimits() in a process of its own under the given limits: once from the file, once without it. */
function underLimits(prlimit: string[]): { fromFile: unknown; fromReport: unknown } {
  const code =
    `const { rlimits } = await import(${JSON.stringify(SELF_CHECK)});` +
    `const fs = await import('node:fs');` +
    `console.log(JSON.stringify({ fromFile: rlimits(fs.readFileSync('/proc/self/limits', 'utf8')), fromReport: rlimits('') }));`;
  const r = spawnSync(
    'prlimit',
    [...prlimit, '--', process.execPath, '--import', 'tsx', '--input-type=module', '-e', code],
    {
      encoding: 'utf8',
    },
  );
  expect(r.status, r.stderr).toBe(0);
  const parsed: unknown = JSON.parse(r.stdout);
  return {
    fromFile: Reflect.get(Object(parsed), 'fromFile'),
    fromReport: Reflect.get(Object(parsed), 'fromReport'),
  };
}

describe('start self-test rlimits without /proc/self/limits', () => {
  it('reads nofile and fsize (in bytes) from the process itself, as the file shows them', () => {
    const set = underLimits(['--nofile=777', '--fsize=123456789']);
    expect(set.fromReport).toEqual({ nofile: '777', fsize: '123456789' });
    expect(set.fromReport).toEqual(set.fromFile);
    const unlimited = underLimits(['--nofile=4096', '--fsize=unlimited']);
    expect(unlimited.fromReport).toEqual({ nofile: '4096', fsize: 'unlimited' });
    expect(unlimited.fromReport).toEqual(unlimited.fromFile);
  });
});
