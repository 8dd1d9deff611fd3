// Before the first sandbox of a backend: probe it, and run the isolation self-test unless this exact setup
// (backend version, kernel, uid mode, sandbox code) already passed it. A boundary that does not hold stops here.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HostIds, SandboxBackend } from '../sandbox/types.ts';
import { selfTest } from '../sandbox/self-test.ts';
import { CorralError } from '../util/errors.ts';

const SANDBOX_SRC = fileURLToPath(new URL('../sandbox/', import.meta.url));

function sandboxCodeHash(): string {
  const h = crypto.createHash('sha256');
  const walk = (dir: string): void => {
    for (const e of fs
      .readdirSync(dir, { withFileTypes: true })
      .sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) h.update(p).update(fs.readFileSync(p));
    }
  };
  walk(SANDBOX_SRC);
  return h.digest('hex');
}

export function createBackendGate(opts: {
  cacheDir: string;
  hostIds: (agentId: number) => HostIds | undefined;
}) {
  const passed = new Map<string, Promise<void>>();
  const check = async (backend: SandboxBackend): Promise<void> => {
    const probe = await backend.probe();
    if (!probe.ok)
      throw new CorralError(
        'backend_unavailable',
        `sandbox backend ${backend.name}: ${probe.reason}`,
        probe.fix,
      );
    const key = crypto
      .createHash('sha256')
      .update(
        [backend.name, probe.detail, os.release(), String(process.getuid?.()), sandboxCodeHash()].join('\0'),
      )
      .digest('hex')
      .slice(0, 24);
    const marker = path.join(opts.cacheDir, 'selftest', `${backend.name}-${key}.ok`);
    if (fs.existsSync(marker)) return;
    const result = await selfTest(backend, { hostIds: opts.hostIds(0) });
    if (!result.ok) {
      throw new CorralError(
        'isolation_failed',
        `the ${backend.name} sandbox failed its isolation self-test: ${result.failures.join('; ')}`,
        'corral will not run agents in it; see: corral doctor',
      );
    }
    fs.mkdirSync(path.dirname(marker), { recursive: true, mode: 0o700 });
    fs.writeFileSync(marker, new Date().toISOString() + '\n');
  };
  return {
    /** Resolves once the backend may be used; the same check runs at most once per process. */
    ready(backend: SandboxBackend): Promise<void> {
      let p = passed.get(backend.name);
      if (p === undefined) {
        p = check(backend);
        p.catch(() => passed.delete(backend.name)); // a failure is re-checked next time, not remembered
        passed.set(backend.name, p);
      }
      return p;
    },
  };
}

export type BackendGate = ReturnType<typeof createBackendGate>;
