// The gate refuses a backend whose boundary does not hold, and remembers only a pass.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createBwrapBackend } from '../sandbox/bwrap/backend.ts';
import type { SandboxBackend } from '../sandbox/types.ts';
import { silentLogger } from '../util/log.ts';
import { agentHostIds } from './agent-dirs.ts';
import { createBackendGate } from './backend-gate.ts';

/** A "backend" that runs the command straight on the host: no boundary at all. */
function unsandboxed(): SandboxBackend & { starts: number } {
  const b = {
    name: 'none',
    starts: 0,
    probe: () => Promise.resolve({ ok: true as const, detail: 'none 1.0' }),
    start: (spec: Parameters<SandboxBackend['start']>[0]) => {
      b.starts++;
      // the probe script writes to /workspace, which on the host is the spec's workspace directory
      const script = (spec.command[2] ?? '').replaceAll('/workspace', spec.workspaceDir);
      const child = spawn('/bin/sh', ['-c', script], { env: spec.env });
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        child.once('exit', (code, signal) => resolve({ code, signal })),
      );
      return Promise.resolve({
        id: spec.sandboxId,
        stdin: child.stdin,
        stdout: child.stdout,
        stderr: child.stderr,
        exited,
        stop: async () => {
          child.kill('SIGKILL');
          await exited;
        },
      });
    },
  };
  return b;
}

describe('backend gate', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  const cacheDir = (): string => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-gate-'));
    dirs.push(d);
    return d;
  };

  it('refuses a backend without isolation, naming what failed, and does not remember the failure', async () => {
    const backend = unsandboxed();
    const gate = createBackendGate({ cacheDir: cacheDir(), hostIds: () => undefined });
    await expect(gate.ready(backend)).rejects.toThrow(
      /failed its isolation self-test: .*network interfaces besides loopback/,
    );
    await expect(gate.ready(backend)).rejects.toThrow(/isolation self-test/);
    expect(backend.starts).toBe(2);
  });

  it.skipIf(spawnSync('bwrap', ['--version']).status !== 0)(
    'passes real bwrap once, then trusts the recorded pass for the same setup',
    async () => {
      const real = createBwrapBackend({ log: silentLogger });
      let starts = 0;
      const counted: SandboxBackend = { ...real, start: (spec) => (starts++, real.start(spec)) };
      const dir = cacheDir();
      const hostIds = (id: number) => agentHostIds(id, process.getuid?.() === 0);
      await createBackendGate({ cacheDir: dir, hostIds }).ready(counted);
      await createBackendGate({ cacheDir: dir, hostIds }).ready(counted);
      expect(starts).toBe(1);
    },
  );

  it('refuses an unavailable backend with its fix', async () => {
    const backend: SandboxBackend = {
      name: 'absent',
      probe: () => Promise.resolve({ ok: false, reason: 'not installed', fix: 'apt-get install -y absent' }),
      start: () => Promise.reject(new Error('must not start')),
    };
    const gate = createBackendGate({ cacheDir: cacheDir(), hostIds: () => undefined });
    await expect(gate.ready(backend)).rejects.toMatchObject({
      code: 'backend_unavailable',
      hint: 'apt-get install -y absent',
    });
  });
});
