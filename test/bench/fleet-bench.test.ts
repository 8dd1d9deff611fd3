// The fleet bench on a tiny fleet (so `corral bench --only fleet` cannot rot unnoticed), and its leftover check:
// it finds a process and a mount that name the home, and finds nothing once they are gone.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { formatFleetBench, runFleetBench } from '../../bench/fleet.ts';
import { leftBehind } from '../../bench/leftovers.ts';

const isRoot = process.getuid?.() === 0;

it(
  'starts a small fleet on bwrap at once, measures it and finds nothing left behind',
  { timeout: 180_000 },
  async () => {
    const r = await runFleetBench({ count: 3, backends: ['bwrap'], progress: () => undefined });
    expect(r.skipped).toEqual([]);
    const [b] = r.backends;
    expect(b?.raw.each.n).toBe(3);
    expect(b?.firstStart.ready.n).toBe(3);
    expect(b?.restart.ready.n).toBe(3);
    expect(b?.restart.wallMs).toBeGreaterThanOrEqual(b?.restart.ready.p95 ?? Infinity);
    expect(b?.memory.source).toBe('processes');
    expect(b?.memory.sandboxesMiB).toBeGreaterThan(0);
    expect(b?.leftBehind.afterFirstStart).toEqual([]);
    expect(b?.leftBehind.afterRestart).toEqual([]);
    // a mount namespace made meanwhile (another test's) has copies of the volumes' mounts: unmounting them
    // detaches those too, so no loop device stays attached
    expect(b?.leftBehind.afterTeardown).toEqual([]);
    const text = formatFleetBench(r);
    expect(text).toContain('same agents again → runtime ready');
  },
);

it('reports a process that names the home, until it is gone', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-leftover-'));
  const child = spawn('/bin/sh', ['-c', 'sleep 30', path.join(root, 'marker')], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 200));
    const found = await leftBehind({ roots: [root], sandboxIds: () => [] });
    expect(found.some((l) => l.startsWith(`process ${child.pid}:`))).toBe(true);
  } finally {
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
  }
  expect(await leftBehind({ roots: [root], sandboxIds: () => [] })).toEqual([]);
  fs.rmSync(root, { recursive: true, force: true });
});

it.skipIf(!isRoot)(
  'reports a mount under the home, unless it is expected (needs root to mount)',
  async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-leftover-'));
    const dir = path.join(root, 'data', 'agent');
    fs.mkdirSync(dir, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]);
    try {
      expect(await leftBehind({ roots: [root], sandboxIds: () => [] })).toEqual([`mount ${dir}`]);
      expect(
        await leftBehind({ roots: [root], sandboxIds: () => [], expectedMount: (m) => m === dir }),
      ).toEqual([]);
    } finally {
      execFileSync('umount', [dir]);
    }
    expect(await leftBehind({ roots: [root], sandboxIds: () => [] })).toEqual([]);
    fs.rmSync(root, { recursive: true, force: true });
  },
);
