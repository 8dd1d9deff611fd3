// Limits in real OCI sandboxes: a memory bomb and a process flood are contained and reported, nothing is left.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../util/log.ts';
import type { Sandbox, SandboxBackend, SandboxSpec } from '../types.ts';
import { DEFAULT_LIMITS, MIB } from '../types.ts';
import { createGvisorBackend } from './gvisor.ts';
import { createRuncBackend } from './runc.ts';
import { leftovers, ociSkipReason, tempRunDir, removeRunDir, testRoot } from './testing.ts';

const LIMITS_TIMEOUT_MS = 60_000;
const LIMITS = { ...DEFAULT_LIMITS, memoryBytes: 128 * MIB, maxProcesses: 64 };
const BOMB = `python3 -c 'a = bytearray(400 * 1024 * 1024); a[::4096] = b"x" * len(a[::4096])'`;
const FLOOD = 'i=0; while [ $i -lt 200 ]; do sleep 30 & i=$((i+1)); done';

function setup(name: string, make: (runDir: string) => SandboxBackend, uid: number) {
  const runDir = tempRunDir();
  const backend = make(runDir);
  let n = 0;
  const dirs: string[] = [];
  const spec = (script: string): SandboxSpec => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-oci-limits-'));
    dirs.push(dir);
    fs.chmodSync(dir, 0o711);
    for (const d of ['workspace', 'runtime', 'gw', 'etc']) fs.mkdirSync(path.join(dir, d));
    fs.chownSync(path.join(dir, 'workspace'), uid, uid);
    const root = testRoot(dir);
    return {
      sandboxId: `${name}-limits-${process.pid}-${++n}`,
      agent: 'limits',
      workspaceDir: path.join(dir, 'workspace'),
      runtimeDir: path.join(dir, 'runtime'),
      gatewayDir: path.join(dir, 'gw'),
      etcDir: path.join(dir, 'etc'),
      hostIds: { uid, gid: uid },
      env: { PATH: '/usr/bin:/bin' },
      limits: LIMITS,
      extraReadOnly: [],
      ...(root === undefined ? {} : { root }),
      command: ['/bin/sh', '-c', script],
    };
  };
  const run = async (s: SandboxSpec): Promise<{ sandbox: Sandbox; out: () => string }> => {
    const sandbox = await backend.start(s);
    let out = '';
    sandbox.stdout.on('data', (c: Buffer) => (out += c.toString()));
    sandbox.stderr.on('data', (c: Buffer) => (out += c.toString()));
    sandbox.stdin.end();
    return { sandbox, out: () => out };
  };
  afterAll(() => {
    removeRunDir(runDir);
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });
  return { runDir, spec, run };
}

/** Resolves once the sandbox printed `marker`, so its limit counters can be read while it still runs. */
function printed(sandbox: Sandbox, out: () => string, marker: string): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (out().includes(marker)) resolve();
    };
    sandbox.stdout.on('data', check);
    check();
  });
}

const runcSkip = ociSkipReason('runc');
describe.skipIf(runcSkip !== undefined)(`runc limits${runcSkip ? ` (skipped: ${runcSkip})` : ''}`, () => {
  const uid = 1_500_000_993;
  const t = setup('runc', (runDir) => createRuncBackend({ log: silentLogger, runDir }), uid);

  it(
    'a memory bomb kills only the offending process, and the limit is reported',
    async () => {
      const s = t.spec(`${BOMB}; echo "bomb exited $?"; echo alive; sleep 30`);
      const { sandbox, out } = await t.run(s);
      expect(sandbox.appliedLimits?.memoryBytes).toMatch(/^cgroup-v[12]$/);
      await printed(sandbox, out, 'alive');
      expect(out()).toContain('bomb exited 137');
      const hits = (await sandbox.limitEvents?.()) ?? [];
      expect(hits.map((h) => h.message)).toEqual(['memory limit 128 MiB reached; the process was stopped']);
      expect(await sandbox.limitEvents?.()).toEqual([]); // reported once
      await sandbox.stop();
      expect(leftovers(t.runDir, s.sandboxId, uid)).toEqual([]);
    },
    LIMITS_TIMEOUT_MS,
  );

  it(
    'a process flood is refused at the limit, and reported',
    async () => {
      // a subshell floods; the outer shell only uses builtins and exec, which need no new process
      const s = t.spec(`(${FLOOD}) 2>/dev/null; echo "flood stopped"; exec sleep 30`);
      const { sandbox, out } = await t.run(s);
      await printed(sandbox, out, 'flood stopped');
      const hits = (await sandbox.limitEvents?.()) ?? [];
      expect(hits.map((h) => h.limit)).toEqual(['maxProcesses']);
      expect(hits[0]?.message).toBe('process limit 64 reached; new processes were refused');
      await sandbox.stop();
      expect(leftovers(t.runDir, s.sandboxId, uid)).toEqual([]);
    },
    LIMITS_TIMEOUT_MS,
  );
});

const gvisorSkip = ociSkipReason('runsc');
describe.skipIf(gvisorSkip !== undefined)(
  `gvisor limits${gvisorSkip ? ` (skipped: ${gvisorSkip})` : ''}`,
  () => {
    const uid = 1_500_000_992;
    const t = setup('gvisor', (runDir) => createGvisorBackend({ log: silentLogger, runDir }), uid);

    it(
      'a memory bomb ends the whole sandbox (the sentry is one host process), and the exit says why',
      async () => {
        const s = t.spec(`${BOMB}; echo "survived"`);
        const { sandbox, out } = await t.run(s);
        const exit = await sandbox.exited;
        expect(out()).not.toContain('survived');
        expect(exit.limitHit?.message).toBe('memory limit 128 MiB reached; the sandbox was stopped');
        await sandbox.stop();
        expect(leftovers(t.runDir, s.sandboxId, uid)).toEqual([]);
      },
      LIMITS_TIMEOUT_MS,
    );

    it(
      'a process flood is refused inside by the sentry, and the sandbox stays usable',
      async () => {
        const s = t.spec(
          `(${FLOOD}) 2>/dev/null; echo "flood stopped"; set -- /proc/[0-9]*; echo "count $#"`,
        );
        const { sandbox, out } = await t.run(s);
        const exit = await sandbox.exited;
        expect(exit.code).toBe(0);
        expect(out()).toContain('flood stopped');
        const count = Number(/count (\d+)/.exec(out())?.[1]);
        expect(count, out()).toBeLessThanOrEqual(LIMITS.maxProcesses);
        expect(count).toBeGreaterThan(LIMITS.maxProcesses / 2);
        await sandbox.stop();
        expect(leftovers(t.runDir, s.sandboxId, uid)).toEqual([]);
      },
      LIMITS_TIMEOUT_MS,
    );
  },
);
