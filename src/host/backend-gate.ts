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
import { sourceHash } from '../util/source-hash.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The sandbox code a recorded pass vouches for: any change to it runs the self-test again. */
const sandboxCodeHash = (): string => sourceHash(REPO_ROOT, ['src/sandbox']);

/** The base image a backend's agents run on, when they do. */
export interface GateImage {
  dir: string;
  id: string;
}

export function createBackendGate(opts: {
  cacheDir: string;
  hostIds: (agentId: number) => HostIds | undefined;
  /** records each self-test result (selftest.pass / selftest.fail) in the audit trail */
  audit?: (e: { actor: string; action: string; subject: string; detail: Record<string, unknown> }) => void;
}) {
  const passed = new Map<string, Promise<void>>();
  const check = async (backend: SandboxBackend, image: GateImage | undefined): Promise<void> => {
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
        [
          backend.name,
          probe.detail,
          os.release(),
          String(process.getuid?.()),
          sandboxCodeHash(),
          image?.id ?? 'legacy',
        ].join('\0'),
      )
      .digest('hex')
      .slice(0, 24);
    const marker = path.join(opts.cacheDir, 'selftest', `${backend.name}-${key}.ok`);
    if (fs.existsSync(marker)) return;
    const perAgent = opts.hostIds(0);
    const hostIds = backend.hostIdsFor ? await backend.hostIdsFor(perAgent) : perAgent;
    // on the layout its agents will get: the base image with a fresh layer, or the legacy one
    const result = await selfTest(backend, { hostIds, ...(image && { image }) });
    opts.audit?.({
      actor: 'host',
      action: result.ok ? 'selftest.pass' : 'selftest.fail',
      subject: `backend:${backend.name}`,
      detail: { image: image?.id ?? 'legacy', failures: result.failures, facts: result.facts },
    });
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
    ready(backend: SandboxBackend, image?: GateImage): Promise<void> {
      const name = `${backend.name}\0${image?.id ?? 'legacy'}`;
      let p = passed.get(name);
      if (p === undefined) {
        p = check(backend, image);
        p.catch(() => passed.delete(name)); // a failure is re-checked next time, not remembered
        passed.set(name, p);
      }
      return p;
    },
  };
}

export type BackendGate = ReturnType<typeof createBackendGate>;
